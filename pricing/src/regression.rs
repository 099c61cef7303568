//! Mergeable least-squares statistics and their solution.
//!
//! A batch reduces its in-the-money paths to AᵀA and Aᵀy, which are O(basis²) whatever
//! the number of paths: this is what travels from nodes to the coordinator.

use crate::error::Error;
use crate::lanes::{self, LANES};
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

/// [`RegressionStats`] summed block by block over a batch's paths in [`lanes`]' fixed order,
/// so vector units can do the sums and the bits do not depend on their width.
#[derive(Debug, Clone)]
pub(crate) struct LaneStats {
    dim: usize,
    count: u64,
    /// Per basis function `i`, in order: Aᵀy entry `i`, then AᵀA entries (i, i..dim).
    acc: Vec<[f64; LANES]>,
}

/// Dot products summed side by side (see [`lanes::dots_into`]).
const GROUP: usize = 4;

impl LaneStats {
    pub fn new(dim: usize) -> Self {
        LaneStats { dim, count: 0, acc: vec![[0.0; LANES]; dim * (dim + 1) / 2 + dim] }
    }

    /// Adds a block given column by column: `columns[j * len + i]` is basis function `j` at
    /// path `i` (zero where the path does not take part), `y[i]` the response, `count` the
    /// paths that take part. Every block but the last has a multiple of `LANES` paths.
    #[inline(always)]
    pub fn add_block<S: pulp::Simd>(&mut self, simd: S, columns: &[f64], y: &[f64], count: u64) {
        let len = y.len();
        let col = |j: usize| &columns[j * len..(j + 1) * len];
        let mut at = 0;
        for i in 0..self.dim {
            // Partners of column i: y, then columns i..dim.
            let partners = self.dim - i + 1;
            let partner = |t: usize| if t == 0 { y } else { col(i + t - 1) };
            let mut t = 0;
            while t < partners {
                let acc = &mut self.acc[at + t..];
                match partners - t {
                    1 => lanes::dots_into::<S, 1>(simd, first(acc), col(i), [partner(t)]),
                    2 => lanes::dots_into::<S, 2>(simd, first(acc), col(i), [partner(t), partner(t + 1)]),
                    3 => {
                        lanes::dots_into::<S, 3>(simd, first(acc), col(i), [partner(t), partner(t + 1), partner(t + 2)])
                    }
                    _ => lanes::dots_into::<S, GROUP>(
                        simd,
                        first(acc),
                        col(i),
                        [partner(t), partner(t + 1), partner(t + 2), partner(t + 3)],
                    ),
                }
                t += (partners - t).min(GROUP);
            }
            at += partners;
        }
        self.count += count;
    }

    pub fn finish(self) -> RegressionStats {
        let mut stats = RegressionStats::new(self.dim);
        let mut sums = self.acc.into_iter().map(lanes::fold);
        let mut idx = 0;
        for i in 0..self.dim {
            stats.aty[i] = sums.next().unwrap_or(0.0);
            for _ in i..self.dim {
                stats.ata[idx] = sums.next().unwrap_or(0.0);
                idx += 1;
            }
        }
        stats.count = self.count;
        stats
    }
}

/// The first `G` accumulators of a slice, as an array (the caller guarantees the length).
#[inline(always)]
fn first<const G: usize>(acc: &mut [[f64; LANES]]) -> &mut [[f64; LANES]; G] {
    match acc.first_chunk_mut::<G>() {
        Some(a) => a,
        None => unreachable!("accumulators are sized for every partner"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_stats_by_blocks_are_one_fixed_order_sum() {
        let (dim, n) = (3, 37);
        let cols: Vec<f64> = (0..dim * n).map(|i| ((i * 7 % 11) as f64 - 4.0) / 3.0).collect();
        let y: Vec<f64> = (0..n).map(|i| (i as f64).sqrt()).collect();
        let col = |j: usize, r: std::ops::Range<usize>| -> Vec<f64> { cols[j * n..(j + 1) * n][r].to_vec() };
        // The same sums in blocks of 16, 16 and 5 paths, and as one block.
        let mut blocks = LaneStats::new(dim);
        for r in [0..16, 16..32, 32..37] {
            let block: Vec<f64> = (0..dim).flat_map(|j| col(j, r.clone())).collect();
            blocks.add_block(pulp::Scalar, &block, &y[r.clone()], r.len() as u64);
        }
        let mut whole = LaneStats::new(dim);
        whole.add_block(pulp::Scalar, &cols, &y, n as u64);
        let (blocks, whole) = (blocks.finish(), whole.finish());
        assert_eq!(blocks, whole);
        // And they are the plain least-squares sums, up to rounding.
        let mut plain = RegressionStats::new(dim);
        for i in 0..n {
            let row: Vec<f64> = (0..dim).map(|j| cols[j * n + i]).collect();
            plain.add(&row, y[i]);
        }
        assert_eq!(plain.count, whole.count);
        for (a, b) in plain.ata.iter().chain(&plain.aty).zip(whole.ata.iter().chain(&whole.aty)) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

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
