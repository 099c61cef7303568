//! What batches exchange: coefficients, exercise policies and the mergeable statistics.

use crate::error::Error;
use crate::v1;
use pathgrid_pricing::{Coefficients, ExercisePolicy, PricingStats, RegressionStats};

pub fn coefficients_to_proto(date: usize, c: &Coefficients) -> v1::Coefficients {
    v1::Coefficients {
        date: date as u32,
        none: c.is_none(),
        values: c.as_deref().map(<[f64]>::to_vec).unwrap_or_default(),
    }
}

/// Reads one coefficient vector, checked for shape: finite values, or `none` with no
/// values. Whether its length fits the instrument's basis is the receiver's to judge.
pub fn coefficients_from_proto(c: &v1::Coefficients, field: &str) -> Result<(usize, Coefficients), Error> {
    if c.none {
        if !c.values.is_empty() {
            return Err(Error::field(format!("{field}.values"), "must be empty when none is set"));
        }
        return Ok((c.date as usize, None));
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

/// Reads a policy: one entry per regression date, in date order, each checked for shape.
/// Whether it fits the instrument (its dates and basis) is the receiver's to judge.
pub fn policy_from_proto(p: &v1::Policy, field: &str) -> Result<ExercisePolicy, Error> {
    let mut coefficients = Vec::with_capacity(p.coefficients.len());
    for (k, c) in p.coefficients.iter().enumerate() {
        let (date, beta) = coefficients_from_proto(c, &format!("{field}.coefficients[{k}]"))?;
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
