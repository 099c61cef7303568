//! Pricing pass: fresh paths, the learnt exercise rule, mergeable sums.

use crate::block::{DateBlock, European};
use crate::dual::{DUAL_PATHS, DualPath, DualTables};
use crate::error::Error;
use crate::paths::PathStepper;
use crate::problem::Problem;
use crate::rng::Phase;
use crate::simd;
use crate::training::{Coefficients, payoffs};
use serde::{Deserialize, Serialize};

/// Sums over the independent samples of a batch. With antithetic variates a sample is
/// the mean of a pair, which makes the samples independent and the standard error honest.
///
/// `y` is the discounted payoff under the exercise rule; `x` the control variate: the
/// discounted Black–Scholes value of the European option at the moment of exercise, whose
/// expectation is today's European price whatever the rule (a martingale stopped at a
/// stopping time); `e` the discounted European payoff at maturity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PricingStats {
    pub samples: u64,
    pub sum_y: f64,
    pub sum_yy: f64,
    pub sum_x: f64,
    pub sum_xx: f64,
    pub sum_xy: f64,
    pub sum_e: f64,
    pub sum_ee: f64,
    /// Samples and sums of the dual upper bound ([`crate::dual`]), where it is computed.
    #[serde(default)]
    pub dual_samples: u64,
    #[serde(default)]
    pub sum_u: f64,
    #[serde(default)]
    pub sum_uu: f64,
}

impl PricingStats {
    /// Adds another batch's sums; merge in batch-index order for reproducible results.
    /// True when every sum is a finite number.
    pub fn is_finite(&self) -> bool {
        [
            self.sum_y,
            self.sum_yy,
            self.sum_x,
            self.sum_xx,
            self.sum_xy,
            self.sum_e,
            self.sum_ee,
            self.sum_u,
            self.sum_uu,
        ]
        .iter()
        .all(|v| v.is_finite())
    }

    /// Checks the counts against the `paths` of the batch, e.g. of statistics decoded from a
    /// network message. A batch has no more samples than paths, so the counts summed over a
    /// job's batches in [`Self::merge`] stay far below overflow.
    pub fn check(&self, paths: usize) -> Result<(), Error> {
        let paths = paths as u64;
        let got = self.samples.max(self.dual_samples);
        if got > paths {
            return Err(Error::SampleCount { got, paths });
        }
        Ok(())
    }

    pub fn merge(&mut self, o: &PricingStats) {
        self.samples += o.samples;
        self.sum_y += o.sum_y;
        self.sum_yy += o.sum_yy;
        self.sum_x += o.sum_x;
        self.sum_xx += o.sum_xx;
        self.sum_xy += o.sum_xy;
        self.sum_e += o.sum_e;
        self.sum_ee += o.sum_ee;
        self.dual_samples += o.dual_samples;
        self.sum_u += o.sum_u;
        self.sum_uu += o.sum_uu;
    }

    fn add_dual(&mut self, u: f64) {
        self.dual_samples += 1;
        self.sum_u += u;
        self.sum_uu += u * u;
    }

    fn add(&mut self, y: f64, x: f64, e: f64) {
        self.samples += 1;
        self.sum_y += y;
        self.sum_yy += y * y;
        self.sum_x += x;
        self.sum_xx += x * x;
        self.sum_xy += x * y;
        self.sum_e += e;
        self.sum_ee += e * e;
    }
}

/// The exercise rule of an instrument: coefficients per regression date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExercisePolicy {
    pub coefficients: Vec<Coefficients>,
}

impl ExercisePolicy {
    pub fn check(&self, problem: &Problem) -> Result<(), Error> {
        if self.coefficients.len() != problem.regression_dates() {
            return Err(Error::PolicyLength { got: self.coefficients.len(), expected: problem.regression_dates() });
        }
        let p = problem.basis_len();
        for b in self.coefficients.iter().flatten() {
            if b.len() != p {
                return Err(Error::CoefficientLength { got: b.len(), expected: p });
            }
        }
        Ok(())
    }
}

/// Prices batch `batch` of the pricing phase under `policy`.
pub fn price_batch(problem: &Problem, batch: u64, policy: &ExercisePolicy) -> Result<PricingStats, Error> {
    policy.check(problem)?;
    let n = problem.batch_len(Phase::Pricing, batch)?;
    let inst = &problem.instrument;
    let m = problem.dates();

    let mut stepper = PathStepper::new(problem, Phase::Pricing, batch, n);
    if inst.basis.has_european_term() {
        stepper = stepper.with_logs();
    }
    let mut dates = PricingDates {
        alive: vec![true; n],
        y: vec![0.0; n],
        x: vec![0.0; n],
        e: vec![0.0; n],
        pay: vec![0.0; n],
        block: DateBlock::new(problem),
        exercised: vec![false; n],
    };
    // The dual bound on the first paths of batch 0 (pairs with their antithetic partners).
    let dual = if batch == 0 { DualTables::new(problem, policy) } else { None };
    let half = if problem.settings.antithetic { n / 2 } else { n };
    let dual_paths: Vec<usize> = match &dual {
        Some(_) if problem.settings.antithetic => {
            let k = half.min(DUAL_PATHS / 2);
            (0..k).chain(half..half + k).collect()
        }
        Some(_) => (0..n.min(DUAL_PATHS)).collect(),
        None => Vec::new(),
    };
    let mut dual_state: Vec<DualPath> = match &dual {
        Some(t) => vec![DualPath::start(t, inst.model.spot[0]); dual_paths.len()],
        None => Vec::new(),
    };
    for k in 0..m {
        let (values, logs) = stepper.advance_with_logs();
        let df = problem.discount[k];
        // The batch-wide payoffs serve the dual bound and maturity; exercise dates compute
        // theirs block by block.
        if dual.is_some() || k + 1 == m {
            payoffs(problem, values, n, &mut dates.pay);
        }
        if let Some(t) = &dual {
            for (state, &i) in dual_state.iter_mut().zip(&dual_paths) {
                state.step(t, k, values[i], df * dates.pay[i], k + 1 == m);
            }
        }
        if k + 1 == m {
            dates.maturity(df);
            break;
        }
        let Some(beta) = &policy.coefficients[k] else { continue };
        simd::run(PricingDate { dates: &mut dates, problem, k, values, logs, beta });
        // The control variate at exercise: the closed form, once per path over the whole pass.
        for ((x, &ex), &s) in dates.x.iter_mut().zip(&dates.exercised).zip(values) {
            if ex {
                *x = problem.european_value(k, s).unwrap_or(0.0);
            }
        }
    }
    let PricingDates { y, x, e, .. } = dates;
    let mut stats = PricingStats::default();
    if problem.settings.antithetic {
        let pairs = dual_state.len() / 2;
        for i in 0..pairs {
            stats.add_dual(0.5 * (dual_state[i].bound() + dual_state[i + pairs].bound()));
        }
        for i in 0..half {
            let j = i + half;
            stats.add(0.5 * (y[i] + y[j]), 0.5 * (x[i] + x[j]), 0.5 * (e[i] + e[j]));
        }
    } else {
        for d in &dual_state {
            stats.add_dual(d.bound());
        }
        for i in 0..n {
            stats.add(y[i], x[i], e[i]);
        }
    }
    if !stats.is_finite() {
        return Err(Error::NonFinite {
            instrument: problem.instrument.id.clone(),
            phase: Phase::Pricing.name(),
            batch,
        });
    }
    Ok(stats)
}

/// The state of a pricing batch between dates, and its scratch.
struct PricingDates {
    alive: Vec<bool>,
    /// Discounted cash flow under the rule, control variate, European payoff per path.
    y: Vec<f64>,
    x: Vec<f64>,
    e: Vec<f64>,
    pay: Vec<f64>,
    block: DateBlock,
    /// Whether each path was exercised at the current date.
    exercised: Vec<bool>,
}

impl PricingDates {
    /// At maturity every path still alive is paid its payoff.
    fn maturity(&mut self, df: f64) {
        for ((((e, y), x), &alive), &pay) in
            self.e.iter_mut().zip(&mut self.y).zip(&mut self.x).zip(&self.alive).zip(&self.pay)
        {
            let v = df * pay;
            *e = v;
            *y = if alive { v } else { *y };
            *x = if alive { v } else { *x };
        }
    }
}

/// One exercise date of a pricing batch, as a [`simd::run`] operation: the basis columns
/// of every path, the continuation values, and the exercise rule, branch-free.
struct PricingDate<'a> {
    dates: &'a mut PricingDates,
    problem: &'a Problem,
    k: usize,
    values: &'a [f64],
    logs: &'a [f64],
    beta: &'a [f64],
}

impl pulp::WithSimd for PricingDate<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let PricingDate { dates, problem, k, values, logs, beta } = self;
        let n = dates.alive.len();
        let band = problem.exercise_band(k);
        let df = problem.discount[k];
        let block = &mut dates.block;
        for start in (0..n).step_by(block.size()) {
            let len = block.size().min(n - start);
            block.load(values, n, start, len);
            let european =
                if logs.is_empty() { European::FromSpots } else { European::FromLogs(&logs[start..start + len]) };
            block.evaluate(problem, k, european);
            block.continue_with(beta);
            let range = start..start + len;
            for (((((alive, ex), y), &pay), &c), &s) in dates.alive[range.clone()]
                .iter_mut()
                .zip(&mut dates.exercised[range.clone()])
                .zip(&mut dates.y[range])
                .zip(&block.pay)
                .zip(&block.continuation)
                .zip(&block.values)
            {
                let now = df * pay;
                *ex = *alive && pay > 0.0 && band.exercise(s, now, c);
                *y = if *ex { now } else { *y };
                *alive &= !*ex;
            }
        }
    }
}
