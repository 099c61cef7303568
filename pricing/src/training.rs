//! Training pass of Longstaff–Schwartz, one batch at a time.
//!
//! A batch stores its paths and the discounted cash flow of each path under the exercise
//! rule learnt so far. Going backward over the dates, the caller alternates
//! [`TrainingBatch::regression_stats`] (sent up and merged over batches) and
//! [`TrainingBatch::apply_exercise`] with the solved coefficients (sent down).
//!
//! The paths are stored as `f32`: half the memory and bandwidth of `f64`. The simulation
//! itself runs in `f64` and only the stored copy is rounded (relative error 6e-8, which does
//! not accumulate), and the stored paths only choose the exercise rule: the price comes from
//! the pricing pass's fresh `f64` paths, so the rounding cannot bias it.

use crate::block::{DateBlock, European};
use crate::error::Error;
use crate::paths::PathStepper;
use crate::problem::Problem;
use crate::regression::{LaneStats, RegressionStats};
use crate::rng::Phase;
use crate::simd;
use crate::validate::MAX_ASSETS;

/// Coefficients per regression date; `None` means "never exercise at this date".
pub type Coefficients = Option<Vec<f64>>;

#[derive(Debug, Clone)]
pub struct TrainingBatch {
    batch: u64,
    n: usize,
    assets: usize,
    /// `values[(k * assets + a) * n + i]`: asset `a` of path `i` at date `k`.
    values: Vec<f32>,
    /// Cash flow of each path discounted to time 0.
    cash: Vec<f64>,
    /// Dates at and after this one have had their exercise rule applied.
    applied_from: usize,
    /// The European basis term of every path at `european_date`: computed for the date's
    /// statistics and reused by its exercise rule (it costs a logarithm and a table read).
    european: Vec<f64>,
    european_date: Option<usize>,
}

impl TrainingBatch {
    /// Simulates batch `batch` of the training phase and sets cash flows to the payoff at maturity.
    pub fn simulate(problem: &Problem, batch: u64) -> Result<TrainingBatch, Error> {
        let n = problem.batch_len(Phase::Training, batch)?;
        let m = problem.dates();
        let d = problem.instrument.model.assets();
        let mut values = Vec::with_capacity(m * d * n);
        let mut stepper = PathStepper::new(problem, Phase::Training, batch, n);
        for _ in 0..m {
            let state = stepper.advance();
            simd::run(Store { state, out: &mut values });
        }
        let mut tb = TrainingBatch {
            batch,
            n,
            assets: d,
            values,
            cash: vec![0.0; n],
            applied_from: m - 1,
            european: Vec::new(),
            european_date: None,
        };
        let last: Vec<f64> = tb.date_values(m - 1).iter().map(|&x| f64::from(x)).collect();
        payoffs(problem, &last, n, &mut tb.cash);
        let df = problem.discount[m - 1];
        for c in &mut tb.cash {
            *c *= df;
        }
        Ok(tb)
    }

    /// Regenerates a batch and replays the exercise rule of every date already solved
    /// (`solved[k]` for k ≥ `from`), so a batch moved to another node continues exactly
    /// where the lost one stood. `solved` holds one entry per regression date.
    pub fn rebuild(
        problem: &Problem,
        batch: u64,
        solved: &[Coefficients],
        from: usize,
    ) -> Result<TrainingBatch, Error> {
        let mut tb = TrainingBatch::simulate(problem, batch)?;
        for k in (from..problem.regression_dates()).rev() {
            let beta = solved.get(k).ok_or(Error::DateOutOfRange { date: k, dates: solved.len() })?;
            tb.apply_exercise(problem, k, beta.as_deref())?;
        }
        Ok(tb)
    }

    pub fn batch(&self) -> u64 {
        self.batch
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The earliest date whose exercise rule has been applied.
    pub fn applied_from(&self) -> usize {
        self.applied_from
    }

    fn date_values(&self, k: usize) -> &[f32] {
        let w = self.assets * self.n;
        &self.values[k * w..(k + 1) * w]
    }

    /// AᵀA and Aᵀy at date `k` over in-the-money paths, y = discounted future cash flow.
    pub fn regression_stats(&mut self, problem: &Problem, k: usize) -> Result<RegressionStats, Error> {
        check_date(problem, k)?;
        let stats = simd::run(Stats { tb: self, problem, k });
        if !stats.is_finite() {
            return Err(Error::NonFinite {
                instrument: problem.instrument.id.clone(),
                phase: Phase::Training.name(),
                batch: self.batch,
            });
        }
        Ok(stats)
    }

    /// Applies the exercise rule at date `k`: an in-the-money path whose immediate payoff
    /// beats the estimated continuation value (and the European floor) now pays that payoff.
    pub fn apply_exercise(&mut self, problem: &Problem, k: usize, beta: Option<&[f64]>) -> Result<(), Error> {
        check_date(problem, k)?;
        if let Some(b) = beta {
            let p = problem.basis_len();
            if b.len() != p {
                return Err(Error::CoefficientLength { got: b.len(), expected: p });
            }
            simd::run(Exercise { tb: self, problem, k, beta: b });
        }
        self.applied_from = k;
        self.european_date = None;
        Ok(())
    }
}

/// The [`simd::run`] operations of a training batch.
struct Store<'a> {
    state: &'a [f64],
    out: &'a mut Vec<f32>,
}

impl pulp::WithSimd for Store<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.out.extend(self.state.iter().map(|&x| x as f32));
    }
}

struct Stats<'a> {
    tb: &'a mut TrainingBatch,
    problem: &'a Problem,
    k: usize,
}

impl pulp::WithSimd for Stats<'_> {
    type Output = RegressionStats;

    /// The basis of the in-the-money paths against their cash flows, block by block.
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> RegressionStats {
        let Stats { tb, problem, k } = self;
        let n = tb.n;
        let w = tb.assets * n;
        let values = &tb.values[k * w..(k + 1) * w];
        let keep = problem.instrument.basis.has_european_term();
        tb.european.resize(if keep { n } else { 0 }, 0.0);
        let mut block = DateBlock::new(problem);
        let mut stats = LaneStats::new(problem.basis_len());
        for start in (0..n).step_by(block.size()) {
            let len = block.size().min(n - start);
            block.load(values, n, start, len);
            block.evaluate(problem, k, European::FromSpots);
            if keep {
                tb.european[start..start + len].copy_from_slice(block.european(problem));
            }
            let count = block.keep_in_the_money();
            stats.add_block(simd, &block.cols, &tb.cash[start..start + len], count);
        }
        tb.european_date = keep.then_some(k);
        stats.finish()
    }
}

struct Exercise<'a> {
    tb: &'a mut TrainingBatch,
    problem: &'a Problem,
    k: usize,
    beta: &'a [f64],
}

impl pulp::WithSimd for Exercise<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Exercise { tb, problem, k, beta } = self;
        let n = tb.n;
        let w = tb.assets * n;
        let values = &tb.values[k * w..(k + 1) * w];
        let band = problem.exercise_band(k);
        let df = problem.discount[k];
        let cached = (tb.european_date == Some(k)).then_some(&tb.european);
        let mut block = DateBlock::new(problem);
        for start in (0..n).step_by(block.size()) {
            let len = block.size().min(n - start);
            block.load(values, n, start, len);
            let european = match cached {
                Some(european) => European::Given(&european[start..start + len]),
                None => European::FromSpots,
            };
            block.evaluate(problem, k, european);
            block.continue_with(beta);
            let cash = &mut tb.cash[start..start + len];
            for (((cash, &pay), &c), &s) in cash.iter_mut().zip(&block.pay).zip(&block.continuation).zip(&block.values)
            {
                let now = df * pay;
                *cash = if pay > 0.0 && band.exercise(s, now, c) { now } else { *cash };
            }
        }
    }
}

fn check_date(problem: &Problem, k: usize) -> Result<(), Error> {
    if k >= problem.regression_dates() {
        return Err(Error::DateOutOfRange { date: k, dates: problem.regression_dates() });
    }
    Ok(())
}

/// Payoff of every path from a structure-of-arrays block of asset values.
#[inline(always)]
pub(crate) fn payoffs(problem: &Problem, values: &[f64], n: usize, out: &mut [f64]) {
    let mut assets: [&[f64]; MAX_ASSETS] = [&[]; MAX_ASSETS];
    let mut d = 0;
    for (slot, chunk) in assets.iter_mut().zip(values.chunks_exact(n.max(1))) {
        *slot = chunk;
        d += 1;
    }
    problem.instrument.payoff.evaluate(&assets[..d], out);
}
