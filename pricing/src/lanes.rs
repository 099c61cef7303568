//! Sums over paths in a fixed order that vector units can follow.
//!
//! A plain left-to-right sum is one long chain of dependent additions: no vector width can
//! speed it up without reordering it, and a reordering that depends on the width would make
//! the result depend on the CPU. Here term `i` goes to partial sum `i % LANES`, and the
//! partial sums are added in a fixed tree at the end. That order is the definition, so the
//! scalar code, AVX2 (two registers) and AVX-512 (one) produce the same bits.

use pulp::Simd;

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

/// [`dot_into`] for `G` dot products of `a` with each of `b` at once: the same bits, with
/// the partial sums held in the vector registers of `simd` (one AVX-512 register, two AVX2
/// registers or eight scalars per product), `G` independent chains of additions in flight.
/// Lane `l` of the partial sums is lane `l % w` of register `l / w` for a register width
/// `w` that divides [`LANES`], so every width adds the same products in the same order.
#[inline(always)]
pub fn dots_into<S: Simd, const G: usize>(simd: S, acc: &mut [[f64; LANES]; G], a: &[f64], b: [&[f64]; G]) {
    let w = S::F64_LANES;
    let n = b.iter().fold(a.len(), |n, b| n.min(b.len()));
    let full = n / LANES * LANES;
    if w == 0 || !LANES.is_multiple_of(w) || LANES / w > MAX_REGISTERS {
        // No such vector unit today; the plain sums give the same bits.
        for (acc, b) in acc.iter_mut().zip(b) {
            dot_into(acc, &a[..n], b);
        }
        return;
    }
    let k = LANES / w;
    let (xs, _) = S::as_simd_f64s(&a[..full]);
    let ys = b.map(|b| S::as_simd_f64s(&b[..full]).0);
    let mut regs = [[simd.splat_f64s(0.0); MAX_REGISTERS]; G];
    for (regs, acc) in regs.iter_mut().zip(acc.iter()) {
        for (r, v) in regs.iter_mut().zip(S::as_simd_f64s(acc).0) {
            *r = *v;
        }
    }
    for c in 0..full / LANES {
        let x = &xs[c * k..(c + 1) * k];
        for g in 0..G {
            let y = &ys[g][c * k..(c + 1) * k];
            for v in 0..k {
                regs[g][v] = simd.add_f64s(regs[g][v], simd.mul_f64s(x[v], y[v]));
            }
        }
    }
    for (regs, acc) in regs.iter().zip(acc.iter_mut()) {
        for (r, v) in regs.iter().zip(S::as_mut_simd_f64s(acc).0) {
            *v = *r;
        }
    }
    for (acc, b) in acc.iter_mut().zip(b) {
        for (l, (x, y)) in a[full..n].iter().zip(&b[full..n]).enumerate() {
            acc[l] += x * y;
        }
    }
}

/// Registers per set of partial sums: [`LANES`] scalars on a CPU without vectors.
const MAX_REGISTERS: usize = LANES;

/// The partial sums added as a balanced tree.
#[inline(always)]
pub fn fold(acc: [f64; LANES]) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Both<'a>(&'a mut [[f64; LANES]; 2], &'a [f64], [&'a [f64]; 2]);

    impl pulp::WithSimd for Both<'_> {
        type Output = ();

        fn with_simd<S: Simd>(self, simd: S) {
            dots_into(simd, self.0, self.1, self.2)
        }
    }

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
        for level in crate::simd::Level::available() {
            let mut both = [[0.0; LANES]; 2];
            crate::simd::with_level(level, || crate::simd::run(Both(&mut both, &a, [&b, &c])));
            assert_eq!(fold(both[0]).to_bits(), dot(&a, &b).to_bits(), "{level:?}");
            assert_eq!(fold(both[1]).to_bits(), dot(&a, &c).to_bits(), "{level:?}");
        }
    }
}
