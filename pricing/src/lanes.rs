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
    let mut acc = [0.0; LANES];
    dot_into(&mut acc, a, b);
    fold(acc)
}

/// Adds aᵢ bᵢ to partial sum `i % LANES`. For a long sum taken piece by piece, every piece
/// but the last must have a length that is a multiple of [`LANES`]: then the pieces add up to
/// the same bits as one [`dot`] over the whole.
#[inline(always)]
pub fn dot_into(acc: &mut [f64; LANES], a: &[f64], b: &[f64]) {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
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
}

/// [`dot_into`] for `G` dot products of `a` with each of `b` at once: the same bits, but
/// `G` independent chains of additions in flight instead of one, and the partial sums held
/// in registers rather than memory.
#[inline(always)]
pub fn dots_into<const G: usize>(acc: &mut [[f64; LANES]; G], a: &[f64], b: [&[f64]; G]) {
    let n = b.iter().fold(a.len(), |n, b| n.min(b.len()));
    // Whole vectors as arrays, all cut to the same length, so that the compiler sees
    // straight-line vector code without bounds checks. The sums stay in memory (the L1
    // cache): their stores are what the compiler vectorises from, and the G chains of
    // additions hide each other's latency.
    let (xs, x_rest) = a[..n].as_chunks::<LANES>();
    let ys = b.map(|b| b[..n].as_chunks::<LANES>());
    let full = xs.len();
    for (c, x) in xs.iter().enumerate() {
        for g in 0..G {
            let y = &ys[g].0[..full][c];
            for l in 0..LANES {
                acc[g][l] += x[l] * y[l];
            }
        }
    }
    for g in 0..G {
        for (l, (x, y)) in x_rest.iter().zip(ys[g].1).enumerate() {
            acc[g][l] += x * y;
        }
    }
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
        let mut pieces = [0.0; LANES];
        dot_into(&mut pieces, &a[..16], &b[..16]);
        dot_into(&mut pieces, &a[16..], &b[16..]);
        assert_eq!(fold(pieces).to_bits(), dot(&a, &b).to_bits());
        let c: Vec<f64> = b.iter().map(|x| x * 1.5 - 0.25).collect();
        let mut both = [[0.0; LANES]; 2];
        dots_into(&mut both, &a, [&b, &c]);
        assert_eq!(fold(both[0]).to_bits(), dot(&a, &b).to_bits());
        assert_eq!(fold(both[1]).to_bits(), dot(&a, &c).to_bits());
    }
}
