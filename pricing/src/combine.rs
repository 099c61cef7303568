//! From the legs of an option (see [`crate::plan`]) to its answer: a price and an interval
//! that holds the true value of the option as specified.
//!
//! The legs share their random streams, so their differences are estimated far more
//! precisely than their levels. The covariance between legs is not in the merged sums;
//! it is estimated from the per-batch estimates (batch means, with a Student-t quantile
//! for the number of batches). With too few batches for that, the standard error of a
//! combination falls back to the sum of the legs' (a bound whatever the correlation).

use crate::error::Error;
use crate::job::{Job, Style};
use crate::plan::Output;
use crate::result::{Accuracy, Estimate, InstrumentResult, LegResult};

/// Fewest pricing batches for a batch-means standard error of a combination.
pub const MIN_BATCHES_FOR_COVARIANCE: usize = 8;

/// How much of the Richardson correction is allowed for on each side: the correction
/// assumes first-order convergence in the date spacing; half of it covers orders from
/// about 0.8 to 1.6.
pub const EXTRAPOLATION_ALLOWANCE: f64 = 0.5;

/// The estimated remaining policy bias is allowed for this many times over (upward only):
/// the estimate assumes the bias falls as one over the training paths, and the coarse leg's
/// own bias enters the extrapolation too.
pub const POLICY_ALLOWANCE: f64 = 2.0;

/// Combines the leg results of every output of `job`, in output order.
pub fn combine(job: &Job, legs: &[LegResult]) -> Result<Vec<InstrumentResult>, Error> {
    job.outputs.iter().map(|o| combine_output(job, o, legs)).collect()
}

fn leg(legs: &[LegResult], i: usize) -> Result<&LegResult, Error> {
    legs.get(i).ok_or(Error::InstrumentOutOfRange { instrument: i, instruments: legs.len() })
}

const Z: f64 = 1.959_963_984_540_054;

/// A linear combination of legs: its value, its standard error, and the 95% two-sided
/// quantile that goes with how that error was estimated (normal, or Student-t for batch means).
#[derive(Debug, Clone, Copy)]
struct Combination {
    value: f64,
    se: f64,
    quantile: f64,
}

impl Combination {
    fn exact(value: f64) -> Combination {
        Combination { value, se: 0.0, quantile: Z }
    }

    fn half_width(&self) -> f64 {
        self.quantile * self.se
    }
}

/// `Σ cᵢ · legᵢ` with its standard error.
fn linear(parts: &[(f64, &LegResult)]) -> Combination {
    let value: f64 = parts.iter().map(|(c, l)| c * l.result.price).sum();
    let bound: f64 = parts.iter().map(|(c, l)| c.abs() * l.result.std_error).sum();
    let batches = parts[0].1.batches.len();
    let aligned = parts.iter().all(|(_, l)| l.batches.len() == batches)
        && (0..batches).all(|b| parts.iter().all(|(_, l)| l.batches[b].0 == parts[0].1.batches[b].0));
    if !aligned || batches < MIN_BATCHES_FOR_COVARIANCE {
        return Combination { value, se: bound, quantile: Z };
    }
    let total: f64 = parts[0].1.batches.iter().map(|&(n, _)| n as f64).sum();
    let per_batch: Vec<(f64, f64)> = (0..batches)
        .map(|b| {
            let w = parts[0].1.batches[b].0 as f64 / total;
            (w, parts.iter().map(|(c, l)| c * l.batches[b].1).sum::<f64>())
        })
        .collect();
    let mean: f64 = per_batch.iter().map(|(w, a)| w * a).sum();
    let b = batches as f64;
    let var: f64 = per_batch.iter().map(|(w, a)| w * w * (a - mean) * (a - mean)).sum::<f64>() * b / (b - 1.0);
    Combination { value, se: var.sqrt(), quantile: student_t_975(batches - 1) }
}

/// Student's t 97.5% quantile with `dof` degrees of freedom.
fn student_t_975(dof: usize) -> f64 {
    let z = Z;
    let v = dof.max(1) as f64;
    // Cornish–Fisher expansion of the t quantile (Abramowitz & Stegun 26.7.5); within 0.3% for dof ≥ 5.
    let t = z
        + (z.powi(3) + z) / (4.0 * v)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / (384.0 * v * v * v);
    t.max(z)
}

fn combine_output(job: &Job, o: &Output, legs: &[LegResult]) -> Result<InstrumentResult, Error> {
    let main = leg(legs, o.main)?;
    let mut r = main.result.clone();
    r.id = o.id.clone();
    let coarse = o.coarse.map(|i| leg(legs, i)).transpose()?;
    let half = o.half.map(|i| leg(legs, i)).transpose()?;
    if coarse.is_none() && half.is_none() && main.upper.is_none() {
        return Ok(r);
    }
    let lower = Estimate { value: main.result.price, std_error: main.result.std_error };

    // Point estimate: Richardson over the dates for American options, the main leg otherwise.
    let estimate = match coarse {
        Some(c) => linear(&[(2.0, main), (-1.0, c)]),
        None => Combination { value: lower.value, se: lower.std_error, quantile: Z },
    };
    let gap = match coarse {
        Some(c) => linear(&[(1.0, main), (-1.0, c)]),
        None => Combination::exact(0.0),
    };
    let extrapolation = EXTRAPOLATION_ALLOWANCE * (gap.value.abs() + gap.half_width());
    let mut low = estimate.value - estimate.half_width() - extrapolation;
    let (high, policy) = match (main.upper, half) {
        // The dual bound holds the Bermudan value from above; move it by the same correction.
        (Some(u), _) => {
            (u.value + gap.value + Z * u.std_error + gap.half_width() + extrapolation, u.value - lower.value)
        }
        (None, Some(h)) => {
            let p = linear(&[(1.0, main), (-1.0, h)]);
            let allowance = POLICY_ALLOWANCE * (p.value.max(0.0) + p.half_width());
            (estimate.value + estimate.half_width() + extrapolation + allowance, p.value)
        }
        (None, None) => (estimate.value + estimate.half_width() + extrapolation, 0.0),
    };

    let inst = &job.instruments[o.main];
    let mut price = estimate.value;
    let mut std_error = estimate.se;
    if o.style == Style::American {
        // Exercising today is also a choice of the holder: the value is at least the payoff now.
        let today = inst.payoff.value(&inst.model.spot);
        low = low.max(today);
        if today > price {
            price = today;
            std_error = 0.0;
        }
    }
    r.price = price;
    r.std_error = std_error;
    r.ci95 = [low.min(price), high.max(price)];
    r.early_exercise_premium = price - r.european_price;
    r.lower_bound = Some(lower);
    r.upper_bound = main.upper;
    r.accuracy = Some(Accuracy {
        method: method(job, o, main.upper.is_some()),
        exercise_dates: inst.dates.len() as u64,
        extrapolation: coarse.map(|_| gap.value),
        policy_bias: (main.upper.is_some() || half.is_some()).then_some(policy),
    });
    Ok(r)
}

fn method(job: &Job, o: &Output, dual: bool) -> String {
    let main = &job.instruments[o.main];
    let training = |i: usize| job.instruments[i].training_paths(&job.settings);
    let mut parts = Vec::new();
    if let Some(c) = o.coarse {
        parts.push(format!(
            "continuous exercise by Richardson extrapolation from {} and {} exercise dates",
            main.dates.len(),
            job.instruments[c].dates.len()
        ));
    }
    if let Some(h) = o.half {
        parts.push(format!(
            "exercise-policy bias estimated from {} against {} training paths",
            training(o.main),
            training(h)
        ));
    }
    if dual {
        parts.push("dual upper bound from the learnt value function (non-nested)".into());
    }
    parts.push("common random numbers; see docs/ACCURACY.md".into());
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_t_quantiles() {
        // Tables: t(0.975; 5) = 2.5706, t(0.975; 12) = 2.1788, t(0.975; 30) = 2.0423.
        for (dof, t) in [(5, 2.5706), (12, 2.1788), (30, 2.0423)] {
            assert!((student_t_975(dof) - t).abs() < 0.01 * t, "dof {dof}: {}", student_t_975(dof));
        }
        assert!(student_t_975(100_000) >= Z);
    }
}
