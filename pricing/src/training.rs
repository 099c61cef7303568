//! Training pass of Longstaff–Schwartz, one batch at a time.
//!
//! A batch stores its paths and the discounted cash flow of each path under the exercise
//! rule learnt so far. Going backward over the dates, the caller alternates
//! [`TrainingBatch::regression_stats`] (sent up and merged over batches) and
//! [`TrainingBatch::apply_exercise`] with the solved coefficients (sent down).

use crate::error::Error;
use crate::paths::PathStepper;
use crate::problem::{ExerciseBand, Problem};
use crate::regression::RegressionStats;
use crate::rng::Phase;
use crate::simd;

/// Coefficients per regression date; `None` means "never exercise at this date".
pub type Coefficients = Option<Vec<f64>>;

#[derive(Debug, Clone)]
pub struct TrainingBatch {
    batch: u64,
    n: usize,
    assets: usize,
    /// `values[(k * assets + a) * n + i]`: asset `a` of path `i` at date `k`.
    values: Vec<f64>,
    /// Cash flow of each path discounted to time 0.
    cash: Vec<f64>,
    /// Dates at and after this one have had their exercise rule applied.
    applied_from: usize,
    /// The basis columns of the date whose statistics were sent last, kept for its
    /// [`TrainingBatch::apply_exercise`], so each date's basis is evaluated once. The
    /// buffers are reused from date to date: fresh ones would cost a page fault per 4 KiB.
    cols: DateColumns,
    /// Scratch for the basis's order statistics and the continuation values.
    scratch: Vec<f64>,
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
            values.extend_from_slice(stepper.advance());
        }
        let mut cash = vec![0.0; n];
        let last = &values[(m - 1) * d * n..];
        payoffs(problem, last, n, &mut cash);
        let df = problem.discount[m - 1];
        for c in &mut cash {
            *c *= df;
        }
        Ok(TrainingBatch {
            batch,
            n,
            assets: d,
            values,
            cash,
            applied_from: m - 1,
            cols: DateColumns::default(),
            scratch: Vec::new(),
        })
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

    /// AᵀA and Aᵀy at date `k` over in-the-money paths, y = discounted future cash flow.
    pub fn regression_stats(&mut self, problem: &Problem, k: usize) -> Result<RegressionStats, Error> {
        check_date(problem, k)?;
        simd::run(Columns { tb: self, problem, k });
        let stats = simd::run(Stats { cols: &self.cols, problem, y: &self.cash });
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
            if self.cols.date != Some(k) {
                simd::run(Columns { tb: self, problem, k });
            }
            simd::run(Exercise { tb: self, band: problem.exercise_band(k), beta: b });
        }
        self.cols.date = None;
        if self.cols.values.len() > MAX_KEPT_VALUES {
            // A huge basis: give the memory back between rounds rather than hold it.
            self.cols = DateColumns::default();
        }
        self.applied_from = k;
        Ok(())
    }

    /// The in-the-money mask, discounted payoffs and basis columns of date `k`, with the
    /// columns zeroed off the money so that sums over all paths are sums over the money.
    #[inline(always)]
    fn columns(&mut self, problem: &Problem, k: usize) {
        let n = self.n;
        let w = self.assets * n;
        let values = &self.values[k * w..(k + 1) * w];
        let p = problem.basis_len();
        let df = problem.discount[k];
        let c = &mut self.cols;
        c.now.resize(n, 0.0);
        payoffs(problem, values, n, &mut c.now);
        c.itm.clear();
        c.itm.extend(c.now.iter().map(|&x| x > 0.0));
        c.values.resize(p * n, 0.0);
        problem.basis_columns(k, values, &c.now, n, &mut self.scratch, &mut c.values);
        for col in c.values.chunks_exact_mut(n.max(1)) {
            for (v, &m) in col.iter_mut().zip(&c.itm) {
                *v = if m { *v } else { 0.0 };
            }
        }
        for x in &mut c.now {
            *x *= df;
        }
        c.count = c.itm.iter().filter(|&&m| m).count() as u64;
        c.spot.clear();
        c.spot.extend_from_slice(&values[..n]);
        c.date = Some(k);
    }
}

/// Basis values per batch beyond which the column buffers are released between rounds.
const MAX_KEPT_VALUES: usize = 1 << 22;

/// One date of a training batch, column by column.
#[derive(Debug, Clone, Default)]
struct DateColumns {
    /// The date these columns hold, if any.
    date: Option<usize>,
    /// In-the-money paths.
    count: u64,
    itm: Vec<bool>,
    /// Discounted payoff per path.
    now: Vec<f64>,
    /// `values[j * n + i]`: basis function `j` at path `i`, zero off the money.
    values: Vec<f64>,
    /// First asset's spot per path.
    spot: Vec<f64>,
}

/// The [`simd::run`] operations of a training batch.
struct Columns<'a> {
    tb: &'a mut TrainingBatch,
    problem: &'a Problem,
    k: usize,
}

impl pulp::WithSimd for Columns<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.tb.columns(self.problem, self.k)
    }
}

struct Stats<'a> {
    cols: &'a DateColumns,
    problem: &'a Problem,
    y: &'a [f64],
}

impl pulp::WithSimd for Stats<'_> {
    type Output = RegressionStats;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> RegressionStats {
        RegressionStats::from_columns(&self.cols.values, self.problem.basis_len(), self.y, self.cols.count)
    }
}

struct Exercise<'a> {
    tb: &'a mut TrainingBatch,
    band: ExerciseBand,
    beta: &'a [f64],
}

impl pulp::WithSimd for Exercise<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Exercise { tb, band, beta } = self;
        let cols = &tb.cols;
        let continuation = &mut tb.scratch;
        continuation_values(&cols.values, beta, tb.n, continuation);
        for ((((cash, &c), &now), &m), &s) in
            tb.cash.iter_mut().zip(continuation.iter()).zip(&cols.now).zip(&cols.itm).zip(&cols.spot)
        {
            *cash = if m && band.exercise(s, now, c) { now } else { *cash };
        }
    }
}

/// Σⱼ βⱼ · column j per path, in the order of j (as a row's dot product would).
#[inline(always)]
pub(crate) fn continuation_values(columns: &[f64], beta: &[f64], n: usize, out: &mut Vec<f64>) {
    out.clear();
    out.resize(n, 0.0);
    for (col, &b) in columns.chunks_exact(n.max(1)).zip(beta) {
        for (o, &x) in out.iter_mut().zip(col) {
            *o += x * b;
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
pub(crate) fn payoffs(problem: &Problem, values: &[f64], n: usize, out: &mut [f64]) {
    let assets: Vec<&[f64]> = values.chunks_exact(n.max(1)).collect();
    problem.instrument.payoff.evaluate(&assets, out);
}
