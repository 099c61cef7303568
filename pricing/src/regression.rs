//! Mergeable least-squares statistics and their solution.
//!
//! A batch reduces its in-the-money paths to AᵀA and Aᵀy, which are O(basis²) whatever
//! the number of paths: this is what travels from nodes to the coordinator.

use crate::error::Error;
use crate::lanes;
use crate::linalg::SymMatrix;
use serde::{Deserialize, Serialize};

/// Sufficient statistics of one least-squares problem. `ata` is the upper triangle of
/// AᵀA packed row by row: entry (i, j), i ≤ j, sits at `i * dim - i * (i + 1) / 2 + j`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionStats {
    pub dim: usize,
    pub count: u64,
    pub ata: Vec<f64>,
    pub aty: Vec<f64>,
}

impl RegressionStats {
    pub fn new(dim: usize) -> Self {
        RegressionStats { dim, count: 0, ata: vec![0.0; dim * (dim + 1) / 2], aty: vec![0.0; dim] }
    }

    /// Adds one observation with basis row `a` and response `y`.
    #[inline]
    pub fn add(&mut self, a: &[f64], y: f64) {
        let mut idx = 0;
        for i in 0..self.dim {
            let ai = a[i];
            self.aty[i] += ai * y;
            for &aj in &a[i..self.dim] {
                self.ata[idx] += ai * aj;
                idx += 1;
            }
        }
        self.count += 1;
    }

    /// The statistics of a batch given column by column: `columns[j * n + i]` is basis
    /// function `j` at path `i`, zero for paths that do not take part; `y[i]` the response;
    /// `count` the paths that take part. Sums run in [`crate::lanes`]' fixed order.
    #[inline(always)]
    pub fn from_columns(columns: &[f64], dim: usize, y: &[f64], count: u64) -> Self {
        let n = y.len();
        let mut stats = RegressionStats::new(dim);
        let col = |j: usize| &columns[j * n..(j + 1) * n];
        let mut idx = 0;
        for i in 0..dim {
            stats.aty[i] = lanes::dot(col(i), y);
            for j in i..dim {
                stats.ata[idx] = lanes::dot(col(i), col(j));
                idx += 1;
            }
        }
        stats.count = count;
        stats
    }

    /// Checks the shape, e.g. of statistics decoded from a network message.
    pub fn check(&self, dim: usize) -> Result<(), Error> {
        if self.dim != dim || self.ata.len() != dim * (dim + 1) / 2 || self.aty.len() != dim {
            return Err(Error::StatsDimension { got: self.dim, expected: dim });
        }
        Ok(())
    }

    /// Checks the count against the `paths` of the batch, as [`crate::PricingStats::check`]
    /// does: the counts summed in [`Self::merge`] then cannot overflow.
    pub fn check_count(&self, paths: usize) -> Result<(), Error> {
        if self.count > paths as u64 {
            return Err(Error::SampleCount { got: self.count, paths: paths as u64 });
        }
        Ok(())
    }

    /// True when every sum is a finite number.
    pub fn is_finite(&self) -> bool {
        self.ata.iter().chain(&self.aty).all(|v| v.is_finite())
    }

    /// Adds another batch's statistics. Callers merge in batch-index order so the
    /// floating-point sums, and hence the results, are reproducible.
    pub fn merge(&mut self, other: &RegressionStats) -> Result<(), Error> {
        other.check(self.dim)?;
        for (a, b) in self.ata.iter_mut().zip(&other.ata) {
            *a += b;
        }
        for (a, b) in self.aty.iter_mut().zip(&other.aty) {
            *a += b;
        }
        self.count += other.count;
        Ok(())
    }

    /// Regression coefficients, or `None` when there is nothing to regress on
    /// (no in-the-money path): the exercise rule then never exercises at that date.
    ///
    /// The solve is [`crate::linalg`]'s fixed-order one, so β has the same bits on every CPU.
    pub fn solve(&self) -> Option<Vec<f64>> {
        let n = self.dim;
        if self.count == 0 || n == 0 {
            return None;
        }
        if !self.is_finite() {
            return None;
        }
        let m = SymMatrix::from_packed_upper(n, &self.ata)?;
        // A tiny ridge keeps the Cholesky solve stable when a basis column is nearly
        // redundant; it changes well-posed solutions far below Monte Carlo noise.
        let ridge = 1e-12 * m.max_diagonal().max(f64::MIN_POSITIVE);
        if (self.count as usize) >= n
            && let Some(x) = m.with_ridge(ridge).cholesky_solve(&self.aty)
        {
            return Some(x);
        }
        m.pseudo_inverse_solve(&self.aty, 1e-12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_exact_fit_and_merges() {
        let mut a = RegressionStats::new(3);
        let mut b = RegressionStats::new(3);
        for k in 0..50 {
            let x = k as f64 / 10.0;
            let row = [1.0, x, x * x];
            let y = 2.0 - 3.0 * x + 0.5 * x * x;
            if k % 2 == 0 { a.add(&row, y) } else { b.add(&row, y) }
        }
        a.merge(&b).unwrap();
        let beta = a.solve().unwrap();
        for (got, want) in beta.iter().zip([2.0, -3.0, 0.5]) {
            assert!((got - want).abs() < 1e-8, "{beta:?}");
        }
    }

    #[test]
    fn singular_system_falls_back() {
        let mut s = RegressionStats::new(2);
        for k in 0..10 {
            // two identical columns: AᵀA is singular
            s.add(&[k as f64, k as f64], 2.0 * k as f64);
        }
        let beta = s.solve().unwrap();
        assert!((beta[0] + beta[1] - 2.0).abs() < 1e-8, "{beta:?}");
    }

    #[test]
    fn counts_beyond_the_batch_are_refused() {
        // A node's statistics claiming more samples than its batch has paths (the
        // proto_task_result fuzz target overflowed merged counts so).
        let mut s = RegressionStats::new(2);
        s.add(&[1.0, 2.0], 3.0);
        assert!(s.check_count(1).is_ok());
        assert!(matches!(s.check_count(0), Err(Error::SampleCount { got: 1, paths: 0 })));
        s.count = u64::MAX;
        assert!(s.check_count(usize::MAX - 1).is_err());
        let p = crate::PricingStats { samples: 512, dual_samples: 512, ..Default::default() };
        assert!(p.check(512).is_ok());
        assert!(p.check(511).is_err());
        let p = crate::PricingStats { samples: 1, dual_samples: u64::MAX, ..Default::default() };
        assert!(matches!(p.check(512), Err(Error::SampleCount { got: u64::MAX, paths: 512 })));
    }

    #[test]
    fn empty_and_mismatched() {
        assert_eq!(RegressionStats::new(2).solve(), None);
        let mut a = RegressionStats::new(2);
        assert!(a.merge(&RegressionStats::new(3)).is_err());
    }
}
