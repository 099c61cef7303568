//! Sums over paths in a fixed order that vector units can follow.
//!
//! A plain left-to-right sum is one long chain of dependent additions: no vector width can
//! speed it up without reordering it, and a reordering that depends on the width would make
//! the result depend on the CPU. Here term `i` goes to partial sum `i % LANES`, and the
//! partial sums are added in a fixed tree at the end. That order is the definition, so the
//! scalar code, AVX2 (two registers) and AVX-512 (one) produce the same bits.

/// Partial sums per dot product.
pub const LANES: usize = 8;

/// Σ aᵢ bᵢ over the common length, in the fixed lane order.
#[inline(always)]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[l] += x * y;
    }
    fold(acc)
}

/// The partial sums added as a balanced tree.
#[inline(always)]
pub fn fold(acc: [f64; LANES]) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_is_the_lane_ordered_sum() {
        let a: Vec<f64> = (0..21).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let b: Vec<f64> = (0..21).map(|i| (i as f64).sqrt()).collect();
        let mut acc = [0.0; LANES];
        for i in 0..21 {
            acc[i % LANES] += a[i] * b[i];
        }
        assert_eq!(dot(&a, &b).to_bits(), fold(acc).to_bits());
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-13);
        assert_eq!(dot(&[], &[]), 0.0);
    }
}
