//! One date of a batch, a block of paths at a time: asset values, payoffs, basis columns and
//! continuation values for a few hundred paths, sized so that they stay in the L1 cache.
//!
//! Why blocks: a date's pass reads each basis column several times (one AᵀA entry per pair
//! of columns). Over a whole batch the columns are hundreds of kilobytes and every pass goes
//! to L2 or memory; over a block they are a few kilobytes. Blocks start at multiples of
//! [`LANES`], so the fixed lane order of the sums ([`crate::lanes`]) is the same whatever the
//! block size.

use crate::lanes::LANES;
use crate::problem::Problem;
use crate::training::payoffs;

/// Values per block that fit the L1 data cache of current CPUs (32 KiB), with room to spare.
const L1_VALUES: usize = 3072;

/// Where [`DateBlock::evaluate`] takes the European basis term from, for the loaded paths.
#[derive(Debug, Clone, Copy)]
pub(crate) enum European<'a> {
    /// Computed from the spots (a logarithm per path).
    FromSpots,
    /// Computed from the log of the first asset, which the caller kept.
    FromLogs(&'a [f64]),
    /// Given: an earlier evaluation of the same date.
    Given(&'a [f64]),
}

#[derive(Debug, Clone)]
pub(crate) struct DateBlock {
    /// Paths per block, a multiple of [`LANES`].
    size: usize,
    /// Paths in the block loaded last.
    pub len: usize,
    assets: usize,
    /// `values[a * len + i]`: asset `a` of path `i` of the block.
    pub values: Vec<f64>,
    /// Undiscounted payoff per path.
    pub pay: Vec<f64>,
    /// `cols[j * len + i]`: basis function `j` at path `i`.
    pub cols: Vec<f64>,
    /// Estimated continuation value per path.
    pub continuation: Vec<f64>,
    sorted: Vec<f64>,
}

impl DateBlock {
    pub fn new(problem: &Problem) -> DateBlock {
        let assets = problem.instrument.model.assets();
        let per_path = problem.basis_len() + assets + 3;
        let size = (L1_VALUES / per_path).clamp(LANES, 1024) / LANES * LANES;
        DateBlock {
            size,
            len: 0,
            assets,
            values: Vec::with_capacity(assets * size),
            pay: Vec::with_capacity(size),
            cols: Vec::with_capacity(problem.basis_len() * size),
            continuation: Vec::with_capacity(size),
            sorted: Vec::new(),
        }
    }

    /// Paths per block.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Loads paths `start..start + len` of a date's asset values `values[a * n + i]`, stored
    /// as `f64` (pricing) or `f32` (training).
    #[inline(always)]
    pub fn load<T: Copy + Into<f64>>(&mut self, values: &[T], n: usize, start: usize, len: usize) {
        self.len = len;
        self.values.clear();
        for a in 0..self.assets {
            self.values.extend(values[a * n + start..a * n + start + len].iter().map(|&x| x.into()));
        }
    }

    /// Payoffs and basis columns of the loaded block at date `k`, the European term (if the
    /// basis has one) from `european`.
    #[inline(always)]
    pub fn evaluate(&mut self, problem: &Problem, k: usize, european: European<'_>) {
        let (p, len) = (problem.basis_len(), self.len);
        self.pay.resize(len, 0.0);
        payoffs(problem, &self.values, len, &mut self.pay);
        self.cols.resize(p * len, 0.0);
        let basis = &problem.instrument.basis;
        basis.evaluate_columns(&self.values, &self.pay, len, &mut self.sorted, &mut self.cols);
        if !basis.has_european_term() {
            return;
        }
        let col = &mut self.cols[(p - 1) * len..p * len];
        match european {
            European::FromSpots => problem.european_column(k, &self.values[..len], None, col),
            European::FromLogs(logs) => problem.european_column(k, &self.values[..len], Some(logs), col),
            European::Given(values) => col.copy_from_slice(&values[..len]),
        }
    }

    /// The European basis term of the evaluated block (empty without one).
    pub fn european(&self, problem: &Problem) -> &[f64] {
        let (p, len) = (problem.basis_len(), self.len);
        if problem.instrument.basis.has_european_term() { &self.cols[(p - 1) * len..p * len] } else { &[] }
    }

    /// Σⱼ βⱼ · column j per path of the loaded block, in the order of j (as a row's dot
    /// product would be summed).
    #[inline(always)]
    pub fn continue_with(&mut self, beta: &[f64]) {
        let len = self.len;
        self.continuation.clear();
        let mut terms = self.cols.chunks_exact(len.max(1)).zip(beta);
        // The first term starts the sum (0 + a = a, but for the sign of a zero, which no
        // comparison sees), so the buffer needs no zeroing.
        match terms.next() {
            Some((col, &b)) => self.continuation.extend(col.iter().map(|&x| x * b)),
            None => self.continuation.resize(len, 0.0),
        }
        for (col, &b) in terms {
            for (o, &x) in self.continuation.iter_mut().zip(col) {
                *o += x * b;
            }
        }
    }

    /// Zeroes the basis columns of out-of-the-money paths (so that sums over the block are
    /// sums over the money) and returns how many are in the money.
    #[inline(always)]
    pub fn keep_in_the_money(&mut self) -> u64 {
        let len = self.len;
        for col in self.cols.chunks_exact_mut(len.max(1)) {
            for (c, &p) in col.iter_mut().zip(&self.pay) {
                *c = if p > 0.0 { *c } else { 0.0 };
            }
        }
        self.pay.iter().filter(|&&p| p > 0.0).count() as u64
    }
}
