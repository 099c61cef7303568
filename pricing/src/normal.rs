//! Standard normal draws in bulk, by the Box–Muller transform.
//!
//! Why not the polar method or a ziggurat: both reject, so lanes of a vector would wait on
//! each other. Box–Muller turns every two uniform words into two normals with one logarithm,
//! one square root and one sine–cosine pair, all branch-free ([`crate::fastmath`]), so
//! [`crate::simd`] vectorises it whole. Tests check it against `rand_distr`'s
//! `StandardNormal` (moments, tails, a two-sample Kolmogorov–Smirnov test).

use crate::fastmath;
use crate::rng::StreamRng;

/// 1.0 as bits: or-ing 52 random bits into it gives a uniform double in [1, 2).
const ONE_BITS: u64 = 1023 << 52;

/// The two normals of one pair of words: r cos θ and r sin θ with r = √(−2 ln u),
/// u = 2 − [1, 2) in (0, 1] from the high 52 bits of `a`, and θ uniform on the circle from
/// `b` (its top two bits pick the quadrant, the next 52 the angle within it).
#[inline(always)]
pub fn box_muller(a: u64, b: u64) -> (f64, f64) {
    let u = 2.0 - f64::from_bits(ONE_BITS | (a >> 12));
    let r = (-2.0 * fastmath::ln(u)).sqrt();
    let f = f64::from_bits(ONE_BITS | ((b << 2) >> 12)) - 1.0;
    let phi = (f - 0.5) * std::f64::consts::FRAC_PI_2;
    let (sin, cos) = fastmath::sincos_quadrant(b >> 62, phi);
    (r * cos, r * sin)
}

/// Fills `out` with standard normals from the next words of `rng`; `words` is scratch.
/// Pair `j` takes words `j` and `pairs + j` of this draw and writes `out[j]` and
/// `out[pairs + j]` (the second is dropped for the last pair of an odd length), so the
/// loop runs over contiguous memory.
#[inline(always)]
pub fn fill(rng: &mut StreamRng, words: &mut Vec<u64>, out: &mut [f64]) {
    let pairs = out.len().div_ceil(2);
    words.resize(2 * pairs, 0);
    rng.fill_u64(words);
    let (a, b) = words.split_at(pairs);
    let (first, second) = out.split_at_mut(pairs);
    let full = second.len();
    for (((x, y), &wa), &wb) in first.iter_mut().zip(second.iter_mut()).zip(a).zip(b) {
        (*x, *y) = box_muller(wa, wb);
    }
    if full < pairs {
        first[pairs - 1] = box_muller(a[pairs - 1], b[pairs - 1]).0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Phase;
    use rand_distr::{Distribution, StandardNormal};

    fn draws(n: usize) -> Vec<f64> {
        let mut rng = StreamRng::for_batch(7, 0, Phase::Pricing, 3);
        let mut z = vec![0.0; n];
        fill(&mut rng, &mut Vec::new(), &mut z);
        z
    }

    #[test]
    fn moments_match_the_standard_normal() {
        let z = draws(400_001);
        let n = z.len() as f64;
        let mean = z.iter().sum::<f64>() / n;
        let var = z.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let skew = z.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / n;
        let kurt = z.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
        // 5 standard errors: mean 1/√n, variance √(2/n), skewness √(15/n), kurtosis √(96/n).
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "var {var}");
        assert!(skew.abs() < 5.0 * (15.0 / n).sqrt(), "skew {skew}");
        assert!((kurt - 3.0).abs() < 5.0 * (96.0 / n).sqrt(), "kurtosis {kurt}");
    }

    #[test]
    fn tails_match_the_standard_normal() {
        let z = draws(2_000_000);
        let n = z.len() as f64;
        // P(|Z| > 3) = 2.6998e-3, P(|Z| > 4) = 6.334e-5: within 5 binomial standard errors.
        for (cut, p) in [(3.0, 2.699_796e-3), (4.0, 6.334_248e-5)] {
            let count = z.iter().filter(|x| x.abs() > cut).count() as f64;
            let sd = (n * p * (1.0 - p)).sqrt();
            assert!((count - n * p).abs() < 5.0 * sd, "|z| > {cut}: {count} vs {}", n * p);
        }
    }

    #[test]
    fn two_sample_ks_against_rand_distr() {
        let n = 200_000;
        let mut ours = draws(n);
        let mut rng = StreamRng::from_key(12_345);
        let mut theirs: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        ours.sort_by(f64::total_cmp);
        theirs.sort_by(f64::total_cmp);
        let (mut i, mut j, mut d) = (0, 0, 0.0f64);
        while i < n && j < n {
            if ours[i] <= theirs[j] {
                i += 1;
            } else {
                j += 1;
            }
            d = d.max((i as f64 - j as f64).abs() / n as f64);
        }
        // Critical value at α = 0.001 for two samples of n: 1.949 √(2/n).
        let critical = 1.949 * (2.0 / n as f64).sqrt();
        assert!(d < critical, "KS distance {d} ≥ {critical}");
    }

    #[test]
    fn odd_lengths_are_a_prefix_of_the_pair_layout() {
        let mut z = vec![0.0; 7];
        let mut rng = StreamRng::from_key(5);
        fill(&mut rng, &mut Vec::new(), &mut z);
        let mut rng = StreamRng::from_key(5);
        let mut w = vec![0u64; 8];
        rng.fill_u64(&mut w);
        for j in 0..4 {
            let (c, s) = box_muller(w[j], w[4 + j]);
            assert_eq!(z[j].to_bits(), c.to_bits());
            if j < 3 {
                assert_eq!(z[4 + j].to_bits(), s.to_bits());
            }
        }
        assert!(z.iter().all(|x| x.is_finite()));
        // The extremes: u = 1 gives r = 0; the smallest u gives about 8.5.
        assert_eq!(box_muller(0, 0).0, 0.0);
        let (x, y) = box_muller(u64::MAX, 0);
        assert!((x.hypot(y) - (2.0 * 52.0 * std::f64::consts::LN_2).sqrt()).abs() < 1e-12);
    }
}
