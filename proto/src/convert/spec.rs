//! Job specs: the whole spec tree, field by field.

use crate::error::Error;
use crate::v1;
use pathgrid_pricing as pricing;
use pathgrid_pricing::spec::{
    BasisKind, BasisSpec, ExerciseSpec, ExerciseStyle, InstrumentSpec, ModelSpec, PayoffSpec, Scalars,
};

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
