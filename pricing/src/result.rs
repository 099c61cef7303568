//! Results: the JSON users read, and the reduction from merged sums to a price.

use crate::black_scholes;
use crate::error::Error;
use crate::job::Style;
use crate::pricing_pass::{ExercisePolicy, PricingStats};
use crate::problem::Problem;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentResult {
    pub id: String,
    /// Low-biased estimate from the independent pricing pass.
    pub price: f64,
    pub std_error: f64,
    pub ci95: [f64; 2],
    pub european_price: f64,
    pub early_exercise_premium: f64,
    /// (time, spot) below which a put (above which a call) is exercised; one asset only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exercise_boundary: Option<Vec<[f64; 2]>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    pub paths: u64,
    pub training_paths: u64,
    pub path_steps: u64,
    pub elapsed_s: f64,
    pub nodes: u32,
    pub batches: u64,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub job_id: String,
    pub name: String,
    pub status: JobStatus,
    pub results: Vec<InstrumentResult>,
    pub stats: JobStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Turns the merged pricing sums of an instrument into its result.
pub fn finish(problem: &Problem, policy: &ExercisePolicy, stats: &PricingStats) -> Result<InstrumentResult, Error> {
    if stats.samples == 0 {
        return Err(Error::NoSamples);
    }
    let inst = &problem.instrument;
    let m = &inst.model;
    let n = stats.samples as f64;
    let mean_y = stats.sum_y / n;
    let mean_x = stats.sum_x / n;
    let dof = (n - 1.0).max(1.0);
    let var_y = ((stats.sum_yy - n * mean_y * mean_y) / dof).max(0.0);
    let var_x = ((stats.sum_xx - n * mean_x * mean_x) / dof).max(0.0);
    let cov = (stats.sum_xy - n * mean_x * mean_y) / dof;

    let closed_form =
        inst.payoff.vanilla().filter(|_| m.assets() == 1).map(|(call, k)| {
            black_scholes::price(call, m.spot[0], k, m.rate, m.dividend[0], m.vol[0], inst.maturity())
        });
    let (mut price, mut variance) = match closed_form {
        Some(mu) if problem.has_european_closed_form() && var_x > 0.0 => {
            let b = cov / var_x;
            (mean_y - b * (mean_x - mu), (var_y - cov * cov / var_x).max(0.0))
        }
        _ => (mean_y, var_y),
    };
    let mean_e = stats.sum_e / n;
    let european_price = closed_form.unwrap_or(mean_e);
    if inst.style == Style::American {
        // Exercising today is also a choice of the holder.
        let today = inst.payoff.value(&m.spot);
        if today > price {
            price = today;
            variance = 0.0;
        }
    }
    let std_error = (variance / n).sqrt();
    Ok(InstrumentResult {
        id: inst.id.clone(),
        price,
        std_error,
        ci95: [price - 1.96 * std_error, price + 1.96 * std_error],
        european_price,
        early_exercise_premium: price - european_price,
        exercise_boundary: exercise_boundary(problem, policy),
    })
}

/// For a single-asset vanilla, the spot level per date where exercising and continuing
/// are worth the same under the learnt rule.
fn exercise_boundary(problem: &Problem, policy: &ExercisePolicy) -> Option<Vec<[f64; 2]>> {
    let inst = &problem.instrument;
    let (call, strike) = inst.payoff.vanilla().filter(|_| inst.model.assets() == 1)?;
    if inst.style == Style::European {
        return None;
    }
    let basis = &inst.basis;
    let mut row = vec![0.0; basis.len()];
    let mut out = Vec::new();
    for (k, beta) in policy.coefficients.iter().enumerate() {
        let Some(beta) = beta else { continue };
        let df = problem.discount[k];
        let mut gain = |s: f64| {
            let pay = inst.payoff.value(&[s]);
            problem.basis_row(k, &[s], pay, &mut row);
            let continuation = row.iter().zip(beta).map(|(r, c)| r * c).sum::<f64>();
            let floor = problem.european_value(k, s).unwrap_or(f64::NEG_INFINITY);
            df * pay - continuation.max(floor)
        };
        // Walk away from the strike into the money until exercising pays, then bisect.
        let steps = 400;
        let far = if call { strike * 5.0 } else { strike * 0.05 };
        let at = |j: usize| strike + (far - strike) * j as f64 / steps as f64;
        let Some(j) = (1..=steps).find(|&j| gain(at(j)) >= 0.0) else { continue };
        let (mut inside, mut outside) = (at(j), at(j - 1));
        for _ in 0..50 {
            let mid = 0.5 * (inside + outside);
            if gain(mid) >= 0.0 { inside = mid } else { outside = mid }
        }
        out.push([inst.dates[k], inside]);
    }
    out.push([inst.maturity(), strike]);
    Some(out)
}
