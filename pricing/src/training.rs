//! Training pass of Longstaff–Schwartz, one batch at a time.
//!
//! A batch stores its paths and the discounted cash flow of each path under the exercise
//! rule learnt so far. Going backward over the dates, the caller alternates
//! [`TrainingBatch::regression_stats`] (sent up and merged over batches) and
//! [`TrainingBatch::apply_exercise`] with the solved coefficients (sent down).

use crate::error::Error;
use crate::paths::PathStepper;
use crate::problem::Problem;
use crate::regression::RegressionStats;
use crate::rng::Phase;

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
    itm_cache: Option<InTheMoney>,
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
        Ok(TrainingBatch { batch, n, assets: d, values, cash, applied_from: m - 1, itm_cache: None })
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

    fn date_values(&self, k: usize) -> &[f64] {
        let w = self.assets * self.n;
        &self.values[k * w..(k + 1) * w]
    }

    /// AᵀA and Aᵀy at date `k` over in-the-money paths, y = discounted future cash flow.
    /// Keeps the in-the-money basis rows for the [`TrainingBatch::apply_exercise`] of the
    /// same date that follows, so each date's basis is evaluated once.
    pub fn regression_stats(&mut self, problem: &Problem, k: usize) -> Result<RegressionStats, Error> {
        check_date(problem, k)?;
        let itm = self.in_the_money(problem, k);
        let p = problem.basis_len();
        let mut stats = RegressionStats::new(p);
        for (row, &i) in itm.rows.chunks_exact(p).zip(&itm.paths) {
            stats.add(row, self.cash[i as usize]);
        }
        if itm.rows.len() <= MAX_CACHED_ROW_VALUES {
            self.itm_cache = Some(itm);
        }
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
        let cached = self.itm_cache.take().filter(|c| c.date == k);
        if let Some(b) = beta {
            let p = problem.basis_len();
            if b.len() != p {
                return Err(Error::CoefficientLength { got: b.len(), expected: p });
            }
            let itm = cached.unwrap_or_else(|| self.in_the_money(problem, k));
            for ((row, &i), (&now, &spot)) in
                itm.rows.chunks_exact(p).zip(&itm.paths).zip(itm.now.iter().zip(&itm.first_spot))
            {
                let continuation: f64 = row.iter().zip(b).map(|(x, c)| x * c).sum();
                if problem.exercise_now(k, &[spot], now, continuation) {
                    self.cash[i as usize] = now;
                }
            }
        }
        self.applied_from = k;
        Ok(())
    }

    /// The in-the-money paths at date `k` with their basis rows and discounted payoffs.
    fn in_the_money(&self, problem: &Problem, k: usize) -> InTheMoney {
        let values = self.date_values(k);
        let n = self.n;
        let basis = &problem.instrument.basis;
        let p = basis.len();
        let df = problem.discount[k];
        let mut pay = vec![0.0; n];
        payoffs(problem, values, n, &mut pay);
        let count = pay.iter().filter(|&&x| x > 0.0).count();
        let mut itm = InTheMoney {
            date: k,
            paths: Vec::with_capacity(count),
            rows: vec![0.0; count * p],
            now: Vec::with_capacity(count),
            first_spot: Vec::with_capacity(count),
        };
        let mut s = vec![0.0; self.assets];
        let mut rows = itm.rows.chunks_exact_mut(p.max(1));
        for (i, &payoff) in pay.iter().enumerate() {
            if payoff <= 0.0 {
                continue;
            }
            for (a, x) in s.iter_mut().enumerate() {
                *x = values[a * n + i];
            }
            if let Some(row) = rows.next() {
                problem.basis_row(k, &s, payoff, row);
            }
            itm.paths.push(i as u32);
            itm.now.push(df * payoff);
            itm.first_spot.push(s[0]);
        }
        itm
    }
}

/// Rows kept between the two halves of a round: beyond this (huge bases) they are
/// recomputed instead of held.
const MAX_CACHED_ROW_VALUES: usize = 1 << 20;

/// In-the-money paths of one date: indices, basis rows (`basis_len` values per path),
/// discounted payoff and first asset's spot.
#[derive(Debug, Clone)]
struct InTheMoney {
    date: usize,
    paths: Vec<u32>,
    rows: Vec<f64>,
    now: Vec<f64>,
    first_spot: Vec<f64>,
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
