//! Results per instrument: the JSON users read, and the reduction from merged sums to a price.
//! (The job-level document around them, `JobResult`, is orchestration: `pathgrid-protocol`.)

use crate::error::Error;
use crate::job::Style;
use crate::plan::LegKind;
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
    /// Bounds on the Bermudan value on the exercise dates (`accuracy.exercise_dates`): the
    /// low-biased estimate, and the dual upper bound where it is computed (one-asset puts
    /// and calls). The true Bermudan value lies between them, up to Monte Carlo error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<Estimate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_bound: Option<Estimate>,
    /// How the bias was estimated and allowed for in `ci95`; absent for European options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
}

impl InstrumentResult {
    /// True when every number of the result is finite.
    pub fn is_finite(&self) -> bool {
        let main = [self.price, self.std_error, self.ci95[0], self.ci95[1], self.european_price];
        let bounds = self.lower_bound.iter().chain(&self.upper_bound).flat_map(|e| [e.value, e.std_error]);
        let accuracy = self.accuracy.iter().flat_map(|a| a.extrapolation.into_iter().chain(a.policy_bias));
        main.into_iter()
            .chain([self.early_exercise_premium])
            .chain(self.exercise_boundary.iter().flatten().flatten().copied())
            .chain(bounds)
            .chain(accuracy)
            .all(f64::is_finite)
    }
}

/// A Monte Carlo estimate and its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub std_error: f64,
}

/// What stands behind an early-exercise price and its interval (docs/ACCURACY.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// In words: which legs were run and what they estimate.
    pub method: String,
    /// Exercise dates of the main leg.
    pub exercise_dates: u64,
    /// American: the Richardson correction added to the Bermudan estimate (main − coarse leg).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extrapolation: Option<f64>,
    /// The estimated exercise-policy bias left in the price: upper minus lower bound, or
    /// (without a dual bound) main minus half-training leg. `ci95` allows for it above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_bias: Option<f64>,
}

/// The result of one leg ([`crate::plan`]) with what [`crate::combine`] needs beyond it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegResult {
    /// The leg's own estimate on its dates, under its policy: no bias allowance.
    pub result: InstrumentResult,
    /// Per pricing batch, in batch order: (samples, control-variate-adjusted mean, with the
    /// leg's overall control coefficient). Their weighted mean is `result.price`.
    pub batches: Vec<(u64, f64)>,
    /// The dual upper bound of the leg on its dates, where computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<Estimate>,
}

/// Turns the pricing sums of a leg's batches (in batch order) into its result.
pub fn finish(problem: &Problem, policy: &ExercisePolicy, batches: &[PricingStats]) -> Result<LegResult, Error> {
    let mut stats = PricingStats::default();
    for b in batches {
        stats.merge(b);
    }
    if stats.samples == 0 {
        return Err(Error::NoSamples);
    }
    let inst = &problem.instrument;
    let n = stats.samples as f64;
    let mean_y = stats.sum_y / n;
    let mean_x = stats.sum_x / n;
    let dof = (n - 1.0).max(1.0);
    let var_y = ((stats.sum_yy - n * mean_y * mean_y) / dof).max(0.0);
    let var_x = ((stats.sum_xx - n * mean_x * mean_x) / dof).max(0.0);
    let cov = (stats.sum_xy - n * mean_x * mean_y) / dof;

    let closed_form = inst.closed_form_european();
    let (control, price, variance) = match closed_form {
        Some(mu) if problem.has_european_closed_form() && var_x > 0.0 => {
            let b = cov / var_x;
            (Some((b, mu)), mean_y - b * (mean_x - mu), (var_y - cov * cov / var_x).max(0.0))
        }
        _ => (None, mean_y, var_y),
    };
    let per_batch = batches
        .iter()
        .filter(|b| b.samples > 0)
        .map(|b| {
            let k = b.samples as f64;
            let (y, x) = (b.sum_y / k, b.sum_x / k);
            (b.samples, control.map_or(y, |(c, mu)| y - c * (x - mu)))
        })
        .collect();
    let mean_e = stats.sum_e / n;
    let european_price = closed_form.unwrap_or(mean_e);
    let std_error = (variance / n).sqrt();
    let result = InstrumentResult {
        id: inst.id.clone(),
        price,
        std_error,
        ci95: [price - 1.96 * std_error, price + 1.96 * std_error],
        european_price,
        early_exercise_premium: price - european_price,
        exercise_boundary: exercise_boundary(problem, policy),
        lower_bound: None,
        upper_bound: None,
        accuracy: None,
    };
    let upper = (stats.dual_samples >= 2).then(|| {
        let k = stats.dual_samples as f64;
        let mean = stats.sum_u / k;
        let var = ((stats.sum_uu - k * mean * mean) / (k - 1.0)).max(0.0);
        Estimate { value: mean, std_error: (var / k).sqrt() }
    });
    Ok(LegResult { result, batches: per_batch, upper })
}

/// For a single-asset vanilla, the spot level per date where exercising and continuing
/// are worth the same under the learnt rule.
fn exercise_boundary(problem: &Problem, policy: &ExercisePolicy) -> Option<Vec<[f64; 2]>> {
    let inst = &problem.instrument;
    let (call, strike) = inst.vanilla()?;
    // Only the main leg's boundary is reported (crate::combine).
    if inst.style == Style::European || inst.leg != LegKind::Main {
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
    if inst.by_symmetry {
        // The put's boundary is the user's call's, mirrored (crate::symmetry).
        let put_spot = inst.model.spot[0];
        for p in &mut out {
            p[1] = crate::symmetry::boundary_to_call(p[1], put_spot, strike);
        }
    }
    Some(out)
}
