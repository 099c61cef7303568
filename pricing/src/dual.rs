//! An upper bound for one-asset vanilla options, by duality, without nested simulation.
//!
//! For any martingale M with M₀ = 0, the Bermudan value is at most E[maxₖ (Zₖ − Mₖ)], Zₖ the
//! discounted payoff at exercise date k (Rogers 2002; Haugh & Kogan 2004; Andersen & Broadie
//! 2004 build M by nested simulation). The closer M is to the martingale part of the true
//! value process, the tighter the bound. Here M is built from an approximation Ṽₖ of the
//! discounted value function at each date, taken from the learnt rule: Ṽₖ = max(payoff,
//! continuation estimate, European value), piecewise linear in the spot between fixed knots.
//! Then Mₖ₊₁ − Mₖ = Ṽₖ₊₁(Sₖ₊₁) − E[Ṽₖ₊₁(Sₖ₊₁) | Sₖ], and under geometric Brownian motion
//! that conditional expectation is exact and closed-form: a piecewise-linear function is a
//! line plus calls struck at its knots, and a call over one step is a Black–Scholes price.
//! No inner paths are needed, so the bound costs a few Black–Scholes evaluations per
//! path-step on the paths it uses ([`DUAL_PATHS`] of the first pricing batch).

use crate::black_scholes::norm_cdf;
use crate::plan::LegKind;
use crate::pricing_pass::ExercisePolicy;
use crate::problem::Problem;
use std::sync::OnceLock;

/// Paths of pricing batch 0 that also estimate the dual bound.
pub const DUAL_PATHS: usize = 2048;

/// Φ tabulated on [−CDF_RANGE, CDF_RANGE] with step 1/CDF_STEPS_PER_UNIT and read by linear
/// interpolation: absolute error below 1e-7, far below what the bound resolves, at a fraction
/// of the cost of Φ itself. (The bound stays a bound: the martingale's increments have mean
/// zero to that accuracy.)
const CDF_RANGE: f64 = 8.5;
const CDF_STEPS_PER_UNIT: f64 = 2000.0;

fn cdf_table() -> &'static [f64] {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let n = (2.0 * CDF_RANGE * CDF_STEPS_PER_UNIT) as usize + 1;
        (0..n).map(|i| norm_cdf(-CDF_RANGE + i as f64 / CDF_STEPS_PER_UNIT)).collect()
    })
}

#[inline]
fn fast_cdf(table: &[f64], x: f64) -> f64 {
    let u = (x + CDF_RANGE) * CDF_STEPS_PER_UNIT;
    // NaN and anything below the table's range read as 0.
    if u.is_nan() || u < 0.0 {
        return 0.0;
    }
    let i = u as usize;
    match (table.get(i), table.get(i + 1)) {
        (Some(a), Some(b)) => a + (b - a) * (u - i as f64),
        _ => 1.0,
    }
}

/// Knots per date of the piecewise-linear value function.
const KNOTS: usize = 160;

/// Beyond this many one-step standard deviations from the forward, a call over one step is
/// worth its intrinsic value (or nothing) to far below 1e-15.
const FAR: f64 = 7.0;

/// The value function approximation of one date, as a line plus calls at the knots:
/// f(s) = v0 + a0·(s − c0) + Σⱼ wⱼ·(s − cⱼ)⁺.
#[derive(Debug, Clone)]
struct Piecewise {
    knots: Vec<f64>,
    ln_knots: Vec<f64>,
    values: Vec<f64>,
    a0: f64,
    /// Slope changes at `knots[1..len-1]` (index j ↔ knot j; 0 at both ends).
    w: Vec<f64>,
    /// Prefix sums of w and w·c, for the calls far in the money.
    cum_w: Vec<f64>,
    cum_wc: Vec<f64>,
}

impl Piecewise {
    fn new(knots: Vec<f64>, values: Vec<f64>) -> Piecewise {
        let n = knots.len();
        let slope = |j: usize| (values[j + 1] - values[j]) / (knots[j + 1] - knots[j]);
        let a0 = if n >= 2 { slope(0) } else { 0.0 };
        let w: Vec<f64> = (0..n).map(|j| if j == 0 || j + 1 >= n { 0.0 } else { slope(j) - slope(j - 1) }).collect();
        let (mut cum_w, mut cum_wc) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut sw, mut swc) = (0.0, 0.0);
        for j in 0..n {
            sw += w[j];
            swc += w[j] * knots[j];
            cum_w.push(sw);
            cum_wc.push(swc);
        }
        let ln_knots = knots.iter().map(|&c| libm::log(c)).collect();
        Piecewise { knots, ln_knots, values, a0, w, cum_w, cum_wc }
    }

    /// f(s): linear interpolation between knots, linear extrapolation beyond them.
    #[inline]
    fn value(&self, s: f64) -> f64 {
        let c = &self.knots;
        let n = c.len();
        let j = c.partition_point(|&x| x <= s).clamp(1, n - 1);
        let (x0, x1) = (c[j - 1], c[j]);
        let (y0, y1) = (self.values[j - 1], self.values[j]);
        y0 + (y1 - y0) * (s - x0) / (x1 - x0)
    }

    /// E[f(S')] where S' = F·exp(σ√Δt·Z − σ²Δt/2): `forward` F and one-step log-sd `sd`.
    #[inline]
    fn expectation(&self, forward: f64, sd: f64) -> f64 {
        let c = &self.knots;
        let n = c.len();
        let mut e = self.values[0] + self.a0 * (forward - c[0]);
        // Knots far below the forward: calls worth F − c exactly; far above: worth nothing.
        let (lo, hi) =
            if sd > 0.0 { (forward * libm::exp(-FAR * sd), forward * libm::exp(FAR * sd)) } else { (forward, forward) };
        let first_near = c.partition_point(|&x| x < lo).clamp(1, n - 1);
        let end_near = c.partition_point(|&x| x <= hi).clamp(first_near, n - 1);
        if first_near > 1 {
            let k = first_near - 1;
            e += forward * self.cum_w[k] - self.cum_wc[k];
        }
        if sd > 0.0 {
            let table = cdf_table();
            let ln_f = libm::log(forward) + 0.5 * sd * sd;
            let near = c[first_near..end_near].iter().zip(&self.ln_knots[first_near..end_near]);
            for ((&strike, &ln_strike), &w) in near.zip(&self.w[first_near..end_near]) {
                let d1 = (ln_f - ln_strike) / sd;
                e += w * (forward * fast_cdf(table, d1) - strike * fast_cdf(table, d1 - sd));
            }
        } else {
            for (&strike, &w) in c[first_near..end_near].iter().zip(&self.w[first_near..end_near]) {
                e += w * (forward - strike).max(0.0);
            }
        }
        e
    }
}

/// Per-date value functions and one-step moments of a leg under its learnt rule.
#[derive(Debug, Clone)]
pub struct DualTables {
    /// Ṽₖ per exercise date k (discounted to time 0).
    value: Vec<Piecewise>,
    /// Per step into date k: growth of the forward e^{(r−q)Δt} and the log-sd σ√Δt.
    growth: Vec<f64>,
    sd: Vec<f64>,
}

impl DualTables {
    /// Tables for the main leg of a one-asset vanilla with early exercise; `None` for
    /// anything else (only the main leg's bound is used, crate::combine).
    pub fn new(problem: &Problem, policy: &ExercisePolicy) -> Option<DualTables> {
        let inst = &problem.instrument;
        let m = &inst.model;
        let (call, strike) = inst.vanilla()?;
        if inst.leg != LegKind::Main || !problem.has_european_closed_form() || policy.check(problem).is_err() {
            return None;
        }
        let (s0, vol, t) = (m.spot[0], m.vol[0], inst.maturity());
        let half_width = (4.5 * vol * t.sqrt() + (m.rate - m.dividend[0]).abs() * t + 0.05).min(30.0);
        let x0 = libm::log(s0) - half_width;
        let step = 2.0 * half_width / (KNOTS - 1) as f64;
        let mut knots: Vec<f64> = (0..KNOTS).map(|j| libm::exp(x0 + step * j as f64)).collect();
        if strike > knots[0] && strike < knots[KNOTS - 1] {
            knots.push(strike);
            knots.sort_by(f64::total_cmp);
            knots.dedup();
        }
        let dates = problem.dates();
        let basis_len = problem.basis_len();
        let mut row = vec![0.0; basis_len];
        let mut value = Vec::with_capacity(dates);
        for k in 0..dates {
            let df = problem.discount[k];
            let beta = policy.coefficients.get(k).and_then(|b| b.as_deref());
            let mut values = vec![0.0; knots.len()];
            // Continuation over the European value at the last in-the-money knot: carries the
            // early-exercise premium into the out-of-the-money knots, where the regression was
            // never fitted.
            let mut ratio: f64 = 1.0;
            // Walk from deep in the money outwards (down the knots for a call, up for a put),
            // so the ratio is known on leaving the money.
            let order: Vec<usize> = if call { (0..knots.len()).rev().collect() } else { (0..knots.len()).collect() };
            for j in order {
                let s = knots[j];
                let pay = inst.payoff.value(&[s]);
                let now = df * pay;
                let v = if k + 1 == dates {
                    now
                } else {
                    let european = problem.european_value(k, s).unwrap_or(0.0);
                    if pay > 0.0 {
                        let fitted = match beta {
                            Some(b) => {
                                problem.basis_row(k, &[s], pay, &mut row);
                                row.iter().zip(b).map(|(x, c)| x * c).sum::<f64>()
                            }
                            None => european,
                        };
                        let continuation = fitted.max(european);
                        if european > 0.0 {
                            ratio = (continuation / european).clamp(1.0, 10.0);
                        }
                        now.max(continuation)
                    } else {
                        european * ratio
                    }
                };
                values[j] = if v.is_finite() { v } else { now };
            }
            value.push(Piecewise::new(knots.clone(), values));
        }
        let mut growth = Vec::with_capacity(dates);
        let mut sd = Vec::with_capacity(dates);
        let mut prev = 0.0;
        for &tk in &inst.dates {
            let dt = tk - prev;
            growth.push(libm::exp((m.rate - m.dividend[0]) * dt));
            sd.push(vol * dt.sqrt());
            prev = tk;
        }
        Some(DualTables { value, growth, sd })
    }

    /// Ṽₖ(s), discounted.
    #[inline]
    pub fn value(&self, k: usize, s: f64) -> f64 {
        self.value[k].value(s)
    }

    /// E[Ṽₖ(Sₖ) | S at the previous date = s] (date k − 1, or time 0 for k = 0).
    #[inline]
    pub fn expected(&self, k: usize, s: f64) -> f64 {
        self.value[k].expectation(s * self.growth[k], self.sd[k])
    }
}

/// Running state of the dual estimator along one path.
#[derive(Debug, Clone, Copy)]
pub struct DualPath {
    /// Mₖ so far.
    martingale: f64,
    /// E[Ṽₖ₊₁ | now], to be subtracted at the next date.
    expected_next: f64,
    /// maxₖ (Zₖ − Mₖ) so far.
    best: f64,
}

impl DualPath {
    pub fn start(tables: &DualTables, spot0: f64) -> DualPath {
        DualPath { martingale: 0.0, expected_next: tables.expected(0, spot0), best: f64::NEG_INFINITY }
    }

    /// Moves to date `k` with spot `s` and discounted payoff `now` there.
    #[inline]
    pub fn step(&mut self, tables: &DualTables, k: usize, s: f64, now: f64, last: bool) {
        self.martingale += tables.value(k, s) - self.expected_next;
        self.best = self.best.max(now - self.martingale);
        if !last {
            self.expected_next = tables.expected(k + 1, s);
        }
    }

    /// The path's sample of the upper bound.
    pub fn bound(&self) -> f64 {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piecewise_expectation_matches_quadrature() {
        let knots: Vec<f64> = (0..20).map(|j| 20.0 + 2.0 * j as f64).collect();
        let values: Vec<f64> = knots.iter().map(|&s| (40.0_f64 - s).max(0.0) + 0.01 * (s - 30.0).powi(2)).collect();
        let f = Piecewise::new(knots.clone(), values.clone());
        for (c, v) in knots.iter().zip(&values) {
            assert!((f.value(*c) - v).abs() < 1e-12);
        }
        let (forward, sd) = (37.0, 0.05);
        // Gauss–Hermite-free check: fine midpoint quadrature over the normal.
        let n = 200_000;
        let mut e = 0.0;
        for i in 0..n {
            let z = -10.0 + 20.0 * (i as f64 + 0.5) / n as f64;
            let w = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt() * 20.0 / n as f64;
            e += w * f.value(forward * (sd * z - 0.5 * sd * sd).exp());
        }
        assert!((f.expectation(forward, sd) - e).abs() < 1e-6, "{} vs {e}", f.expectation(forward, sd));
    }
}
