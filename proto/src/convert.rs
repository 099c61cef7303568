//! Conversions between wire (`v1`) and pricing types — the only place that knows both.
//!
//! Conversions *to* the wire are infallible. Conversions *from* the wire check the shape
//! of every field and name the offending one (`instruments[2].model.gbm.spot`); semantic
//! validation of a spec (positive spots, sane sizes, ...) stays in
//! [`pathgrid_pricing::JobSpec::validate`], which callers run on the result.

use crate::error::Error;
use crate::v1;
use pathgrid_pricing as pricing;
use pathgrid_pricing::spec::{
    BasisKind, BasisSpec, ExerciseSpec, ExerciseStyle, InstrumentSpec, ModelSpec, PayoffSpec, Scalars,
};
use pathgrid_pricing::{
    Accuracy, Coefficients, Estimate, ExercisePolicy, InstrumentResult, JobResult, JobStats, JobStatus, PricingStats,
    RegressionStats,
};

// ------------------------------------------------------------------ job spec

pub fn spec_to_proto(spec: &pricing::JobSpec) -> v1::JobSpec {
    v1::JobSpec {
        name: spec.name.clone(),
        seed: spec.seed,
        paths: spec.paths,
        training_paths: spec.training_paths,
        batch_size: spec.batch_size,
        antithetic: spec.antithetic,
        basis: spec.basis.map(|b| v1::BasisSpec {
            kind: match b.kind {
                BasisKind::Laguerre => v1::BasisKind::Laguerre,
                BasisKind::Monomial => v1::BasisKind::Monomial,
                BasisKind::Polynomial => v1::BasisKind::Polynomial,
            } as i32,
            degree: b.degree,
        }),
        instruments: spec.instruments.iter().map(instrument_to_proto).collect(),
    }
}

fn list(values: &[f64]) -> v1::DoubleList {
    v1::DoubleList { values: values.to_vec() }
}

fn scalars_to_proto(s: &Scalars) -> v1::Scalars {
    v1::Scalars {
        value: Some(match s {
            Scalars::One(x) => v1::scalars::Value::One(*x),
            Scalars::Many(v) => v1::scalars::Value::Many(list(v)),
        }),
    }
}

fn instrument_to_proto(i: &InstrumentSpec) -> v1::InstrumentSpec {
    let ModelSpec::Gbm { spot, vol, rate, dividend, correlation } = &i.model;
    let model = v1::GbmSpec {
        spot: Some(scalars_to_proto(spot)),
        vol: Some(scalars_to_proto(vol)),
        rate: *rate,
        dividend: Some(scalars_to_proto(dividend)),
        correlation: correlation.as_ref().map(|rows| v1::Matrix { rows: rows.iter().map(|r| list(r)).collect() }),
    };
    use v1::PayoffType as T;
    let (ty, strike, weights) = match &i.payoff {
        PayoffSpec::Put { strike, weights } => (T::Put, *strike, weights.as_deref()),
        PayoffSpec::Call { strike, weights } => (T::Call, *strike, weights.as_deref()),
        PayoffSpec::MaxCall { strike } => (T::MaxCall, *strike, None),
        PayoffSpec::MinPut { strike } => (T::MinPut, *strike, None),
        PayoffSpec::BasketPut { strike, weights } => (T::BasketPut, *strike, weights.as_deref()),
        PayoffSpec::BasketCall { strike, weights } => (T::BasketCall, *strike, weights.as_deref()),
    };
    let e = &i.exercise;
    v1::InstrumentSpec {
        id: i.id.clone(),
        model: Some(v1::ModelSpec { model: Some(v1::model_spec::Model::Gbm(model)) }),
        payoff: Some(v1::PayoffSpec { r#type: ty as i32, strike, weights: weights.map(list) }),
        exercise: Some(v1::ExerciseSpec {
            style: match e.style {
                ExerciseStyle::American => v1::ExerciseStyle::American,
                ExerciseStyle::Bermudan => v1::ExerciseStyle::Bermudan,
                ExerciseStyle::European => v1::ExerciseStyle::European,
            } as i32,
            maturity: e.maturity,
            steps: e.steps,
            dates: e.dates.as_deref().map(list),
        }),
    }
}

pub fn spec_from_proto(spec: &v1::JobSpec) -> Result<pricing::JobSpec, Error> {
    let basis = match &spec.basis {
        None => None,
        Some(b) => Some(BasisSpec {
            kind: match v1::BasisKind::try_from(b.kind) {
                Ok(v1::BasisKind::Laguerre) => BasisKind::Laguerre,
                Ok(v1::BasisKind::Monomial) => BasisKind::Monomial,
                Ok(v1::BasisKind::Polynomial) => BasisKind::Polynomial,
                _ => return Err(Error::field("basis.kind", format!("unknown basis kind {}", b.kind))),
            },
            degree: b.degree,
        }),
    };
    let instruments = spec
        .instruments
        .iter()
        .enumerate()
        .map(|(i, inst)| instrument_from_proto(inst, &format!("instruments[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pricing::JobSpec {
        name: spec.name.clone(),
        seed: spec.seed,
        paths: spec.paths,
        training_paths: spec.training_paths,
        batch_size: spec.batch_size,
        antithetic: spec.antithetic,
        basis,
        instruments,
    })
}

fn scalars_from_proto(s: Option<&v1::Scalars>, field: &str) -> Result<Scalars, Error> {
    match s.and_then(|s| s.value.as_ref()) {
        Some(v1::scalars::Value::One(x)) => Ok(Scalars::One(*x)),
        Some(v1::scalars::Value::Many(v)) => Ok(Scalars::Many(v.values.clone())),
        None => Err(Error::missing(field)),
    }
}

fn instrument_from_proto(i: &v1::InstrumentSpec, path: &str) -> Result<InstrumentSpec, Error> {
    let gbm = match i.model.as_ref().and_then(|m| m.model.as_ref()) {
        Some(v1::model_spec::Model::Gbm(g)) => g,
        None => return Err(Error::missing(format!("{path}.model"))),
    };
    let mp = format!("{path}.model");
    let model = ModelSpec::Gbm {
        spot: scalars_from_proto(gbm.spot.as_ref(), &format!("{mp}.spot"))?,
        vol: scalars_from_proto(gbm.vol.as_ref(), &format!("{mp}.vol"))?,
        rate: gbm.rate,
        dividend: match &gbm.dividend {
            None => Scalars::One(0.0),
            Some(d) => scalars_from_proto(Some(d), &format!("{mp}.dividend"))?,
        },
        correlation: gbm.correlation.as_ref().map(|m| m.rows.iter().map(|r| r.values.clone()).collect()),
    };
    let payoff = i.payoff.as_ref().ok_or_else(|| Error::missing(format!("{path}.payoff")))?;
    let strike = payoff.strike;
    let weights = payoff.weights.as_ref().map(|w| w.values.clone());
    let no_weights = |kind: &str| -> Result<(), Error> {
        if weights.is_some() {
            return Err(Error::field(format!("{path}.payoff.weights"), format!("not allowed for {kind}")));
        }
        Ok(())
    };
    use v1::PayoffType as T;
    let payoff = match T::try_from(payoff.r#type) {
        Ok(T::Put) => PayoffSpec::Put { strike, weights },
        Ok(T::Call) => PayoffSpec::Call { strike, weights },
        Ok(T::MaxCall) => {
            no_weights("max_call")?;
            PayoffSpec::MaxCall { strike }
        }
        Ok(T::MinPut) => {
            no_weights("min_put")?;
            PayoffSpec::MinPut { strike }
        }
        Ok(T::BasketPut) => PayoffSpec::BasketPut { strike, weights },
        Ok(T::BasketCall) => PayoffSpec::BasketCall { strike, weights },
        _ => return Err(Error::field(format!("{path}.payoff.type"), format!("unknown payoff type {}", payoff.r#type))),
    };
    let e = i.exercise.as_ref().ok_or_else(|| Error::missing(format!("{path}.exercise")))?;
    let style = match v1::ExerciseStyle::try_from(e.style) {
        Ok(v1::ExerciseStyle::American) => ExerciseStyle::American,
        Ok(v1::ExerciseStyle::Bermudan) => ExerciseStyle::Bermudan,
        Ok(v1::ExerciseStyle::European) => ExerciseStyle::European,
        _ => return Err(Error::field(format!("{path}.exercise.style"), format!("unknown exercise style {}", e.style))),
    };
    Ok(InstrumentSpec {
        id: i.id.clone(),
        model,
        payoff,
        exercise: ExerciseSpec {
            style,
            maturity: e.maturity,
            steps: e.steps,
            dates: e.dates.as_ref().map(|d| d.values.clone()),
        },
    })
}

// ------------------------------------------------------------------ coefficients and stats

pub fn coefficients_to_proto(date: usize, c: &Coefficients) -> v1::Coefficients {
    v1::Coefficients {
        date: date as u32,
        none: c.is_none(),
        values: c.as_deref().map(<[f64]>::to_vec).unwrap_or_default(),
    }
}

/// Checks one coefficient vector: `basis_len` values, all finite, or `none`.
pub fn coefficients_from_proto(
    c: &v1::Coefficients,
    basis_len: usize,
    field: &str,
) -> Result<(usize, Coefficients), Error> {
    if c.none {
        if !c.values.is_empty() {
            return Err(Error::field(format!("{field}.values"), "must be empty when none is set"));
        }
        return Ok((c.date as usize, None));
    }
    if c.values.len() != basis_len {
        return Err(Error::field(
            format!("{field}.values"),
            format!("has {} entries, the basis has {basis_len}", c.values.len()),
        ));
    }
    if c.values.iter().any(|v| !v.is_finite()) {
        return Err(Error::field(format!("{field}.values"), "must be finite"));
    }
    Ok((c.date as usize, Some(c.values.clone())))
}

pub fn policy_to_proto(policy: &ExercisePolicy) -> v1::Policy {
    v1::Policy {
        coefficients: policy.coefficients.iter().enumerate().map(|(k, c)| coefficients_to_proto(k, c)).collect(),
    }
}

/// A complete policy: one entry per regression date, in date order.
pub fn policy_from_proto(p: &v1::Policy, dates: usize, basis_len: usize, field: &str) -> Result<ExercisePolicy, Error> {
    if p.coefficients.len() != dates {
        return Err(Error::field(
            format!("{field}.coefficients"),
            format!("has {} dates, the instrument has {dates}", p.coefficients.len()),
        ));
    }
    let mut coefficients = Vec::with_capacity(dates);
    for (k, c) in p.coefficients.iter().enumerate() {
        let (date, beta) = coefficients_from_proto(c, basis_len, &format!("{field}.coefficients[{k}]"))?;
        if date != k {
            return Err(Error::field(format!("{field}.coefficients[{k}].date"), format!("expected {k}, got {date}")));
        }
        coefficients.push(beta);
    }
    Ok(ExercisePolicy { coefficients })
}

pub fn regression_to_proto(s: &RegressionStats) -> v1::RegressionStats {
    v1::RegressionStats { dim: s.dim as u32, count: s.count, ata: s.ata.clone(), aty: s.aty.clone() }
}

/// Checks the dimension against the instrument's basis. Whether the sums are finite is left
/// to the receiver: a non-finite sum comes from what the job asked (values that overflow),
/// so it fails the job and is no fault of the node that computed it.
pub fn regression_from_proto(s: &v1::RegressionStats, basis_len: usize, field: &str) -> Result<RegressionStats, Error> {
    let stats = RegressionStats { dim: s.dim as usize, count: s.count, ata: s.ata.clone(), aty: s.aty.clone() };
    stats.check(basis_len).map_err(|e| Error::field(field, e.to_string()))?;
    Ok(stats)
}

pub fn pricing_to_proto(s: &PricingStats) -> v1::PricingStats {
    v1::PricingStats {
        samples: s.samples,
        sum_y: s.sum_y,
        sum_yy: s.sum_yy,
        sum_x: s.sum_x,
        sum_xx: s.sum_xx,
        sum_xy: s.sum_xy,
        sum_e: s.sum_e,
        sum_ee: s.sum_ee,
        dual_samples: s.dual_samples,
        sum_u: s.sum_u,
        sum_uu: s.sum_uu,
    }
}

/// Infallible today; like [`regression_from_proto`] it leaves finiteness to the receiver.
pub fn pricing_from_proto(s: &v1::PricingStats, _field: &str) -> Result<PricingStats, Error> {
    Ok(PricingStats {
        samples: s.samples,
        sum_y: s.sum_y,
        sum_yy: s.sum_yy,
        sum_x: s.sum_x,
        sum_xx: s.sum_xx,
        sum_xy: s.sum_xy,
        sum_e: s.sum_e,
        sum_ee: s.sum_ee,
        dual_samples: s.dual_samples,
        sum_u: s.sum_u,
        sum_uu: s.sum_uu,
    })
}

// ------------------------------------------------------------------ results

pub fn status_to_proto(s: JobStatus) -> v1::JobStatus {
    match s {
        JobStatus::Queued => v1::JobStatus::Queued,
        JobStatus::Running => v1::JobStatus::Running,
        JobStatus::Succeeded => v1::JobStatus::Succeeded,
        JobStatus::Failed => v1::JobStatus::Failed,
        JobStatus::Cancelled => v1::JobStatus::Cancelled,
    }
}

pub fn status_from_proto(s: i32, field: &str) -> Result<JobStatus, Error> {
    match v1::JobStatus::try_from(s) {
        Ok(v1::JobStatus::Queued) => Ok(JobStatus::Queued),
        Ok(v1::JobStatus::Running) => Ok(JobStatus::Running),
        Ok(v1::JobStatus::Succeeded) => Ok(JobStatus::Succeeded),
        Ok(v1::JobStatus::Failed) => Ok(JobStatus::Failed),
        Ok(v1::JobStatus::Cancelled) => Ok(JobStatus::Cancelled),
        _ => Err(Error::field(field, format!("unknown job status {s}"))),
    }
}

pub fn instrument_result_to_proto(r: &InstrumentResult) -> v1::InstrumentResult {
    v1::InstrumentResult {
        id: r.id.clone(),
        price: r.price,
        std_error: r.std_error,
        ci95_low: r.ci95[0],
        ci95_high: r.ci95[1],
        european_price: r.european_price,
        early_exercise_premium: r.early_exercise_premium,
        exercise_boundary: r
            .exercise_boundary
            .as_ref()
            .map(|b| v1::DoubleList { values: b.iter().flat_map(|p| p.iter().copied()).collect() }),
        accuracy: r.accuracy.as_ref().map(|a| v1::Accuracy {
            method: a.method.clone(),
            exercise_dates: a.exercise_dates,
            extrapolation: a.extrapolation,
            policy_bias: a.policy_bias,
        }),
        lower_bound: r.lower_bound.map(|e| v1::Estimate { value: e.value, std_error: e.std_error }),
        upper_bound: r.upper_bound.map(|e| v1::Estimate { value: e.value, std_error: e.std_error }),
    }
}

pub fn instrument_result_from_proto(r: &v1::InstrumentResult, field: &str) -> Result<InstrumentResult, Error> {
    let exercise_boundary = match &r.exercise_boundary {
        None => None,
        Some(b) => {
            if b.values.len() % 2 != 0 {
                return Err(Error::field(format!("{field}.exercise_boundary"), "must hold (time, spot) pairs"));
            }
            Some(b.values.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
        }
    };
    Ok(InstrumentResult {
        id: r.id.clone(),
        price: r.price,
        std_error: r.std_error,
        ci95: [r.ci95_low, r.ci95_high],
        european_price: r.european_price,
        early_exercise_premium: r.early_exercise_premium,
        exercise_boundary,
        accuracy: r.accuracy.as_ref().map(|a| Accuracy {
            method: a.method.clone(),
            exercise_dates: a.exercise_dates,
            extrapolation: a.extrapolation,
            policy_bias: a.policy_bias,
        }),
        lower_bound: r.lower_bound.map(|e| Estimate { value: e.value, std_error: e.std_error }),
        upper_bound: r.upper_bound.map(|e| Estimate { value: e.value, std_error: e.std_error }),
    })
}

pub fn job_result_to_proto(r: &JobResult) -> v1::JobResult {
    let s = &r.stats;
    v1::JobResult {
        job_id: r.job_id.clone(),
        name: r.name.clone(),
        status: status_to_proto(r.status) as i32,
        results: r.results.iter().map(instrument_result_to_proto).collect(),
        stats: Some(v1::JobStats {
            paths: s.paths,
            training_paths: s.training_paths,
            path_steps: s.path_steps,
            elapsed_s: s.elapsed_s,
            nodes: s.nodes,
            batches: s.batches,
            seed: s.seed,
        }),
        error: r.error.clone(),
    }
}

pub fn job_result_from_proto(r: &v1::JobResult) -> Result<JobResult, Error> {
    let s = r.stats.as_ref().ok_or_else(|| Error::missing("result.stats"))?;
    Ok(JobResult {
        job_id: r.job_id.clone(),
        name: r.name.clone(),
        status: status_from_proto(r.status, "result.status")?,
        results: r
            .results
            .iter()
            .enumerate()
            .map(|(i, x)| instrument_result_from_proto(x, &format!("result.results[{i}]")))
            .collect::<Result<_, _>>()?,
        stats: JobStats {
            paths: s.paths,
            training_paths: s.training_paths,
            path_steps: s.path_steps,
            elapsed_s: s.elapsed_s,
            nodes: s.nodes,
            batches: s.batches,
            seed: s.seed,
        },
        error: r.error.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const SPEC: &str = r#"{
      "name": "mix", "seed": 7, "paths": 1000, "training_paths": 500, "batch_size": 128,
      "antithetic": false, "basis": { "kind": "polynomial", "degree": 2 },
      "instruments": [
        { "id": "a", "model": { "type": "gbm", "spot": [100, 90], "vol": [0.2, 0.3], "rate": 0.05,
            "dividend": 0.01, "correlation": [[1, 0.3], [0.3, 1]] },
          "payoff": { "type": "basket_call", "strike": 95, "weights": [0.5, 0.5] },
          "exercise": { "style": "bermudan", "maturity": 1, "dates": [0.5, 1.0] } },
        { "id": "b", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
          "payoff": { "type": "max_call", "strike": 40 },
          "exercise": { "style": "american", "maturity": 1, "steps": 10 } }
      ] }"#;

    #[test]
    fn spec_round_trips() {
        let spec = pricing::parse_spec(SPEC).unwrap();
        let back = spec_from_proto(&spec_to_proto(&spec)).unwrap();
        assert_eq!(spec, back);
    }

    #[test]
    fn missing_fields_are_named() {
        let spec = pricing::parse_spec(SPEC).unwrap();
        let mut p = spec_to_proto(&spec);
        p.instruments[1].payoff = None;
        let e = spec_from_proto(&p).unwrap_err();
        assert!(e.to_string().contains("instruments[1].payoff"), "{e}");
        let mut p = spec_to_proto(&spec);
        p.instruments[0].model =
            Some(v1::ModelSpec { model: Some(v1::model_spec::Model::Gbm(v1::GbmSpec::default())) });
        let e = spec_from_proto(&p).unwrap_err();
        assert!(e.to_string().contains("instruments[0].model.spot"), "{e}");
        let mut p = spec_to_proto(&spec);
        p.instruments[0].exercise.as_mut().unwrap().style = 99;
        assert!(spec_from_proto(&p).unwrap_err().to_string().contains("exercise.style"));
    }

    #[test]
    fn stats_are_checked() {
        let mut s = RegressionStats::new(3);
        s.add(&[1.0, 2.0, 3.0], 4.0);
        let p = regression_to_proto(&s);
        assert_eq!(regression_from_proto(&p, 3, "r").unwrap(), s);
        assert!(regression_from_proto(&p, 4, "r").is_err());
        let mut bad = p.clone();
        bad.ata.pop();
        assert!(regression_from_proto(&bad, 3, "r").is_err());
        // A non-finite sum is well-formed: the receiver fails the job over it.
        let mut nan = p;
        nan.aty[0] = f64::NAN;
        assert!(!regression_from_proto(&nan, 3, "r").unwrap().is_finite());
        let c = coefficients_to_proto(2, &Some(vec![1.0, 2.0]));
        assert_eq!(coefficients_from_proto(&c, 2, "c").unwrap(), (2, Some(vec![1.0, 2.0])));
        assert!(coefficients_from_proto(&c, 3, "c").is_err());
        let policy = ExercisePolicy { coefficients: vec![None, Some(vec![1.0, 2.0])] };
        assert_eq!(policy_from_proto(&policy_to_proto(&policy), 2, 2, "p").unwrap(), policy);
    }
}
