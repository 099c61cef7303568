//! Branch-free elementary functions for the hot loops: written so that the compiler
//! vectorises them over slices, and deterministic (plain IEEE arithmetic, no libm), so a
//! result does not depend on the machine's math library.

const LOG2E: f64 = std::f64::consts::LOG2_E;
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// 1.5 · 2⁵²: adding it rounds to an integer held in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// The polynomial with coefficients `c` (highest degree first) at `x`, by Horner's rule:
/// p = c₀, then p = p·x + cₖ for each next coefficient. (p·x − c and p·x + (−c) are the same
/// IEEE operation, so negative coefficients give the same bits as a subtraction.)
#[inline(always)]
fn horner<const N: usize>(x: f64, c: [f64; N]) -> f64 {
    let mut p = c[0];
    for &ck in &c[1..] {
        p = p * x + ck;
    }
    p
}

/// e^x with relative error below 3e-16 for x in [-708, 709]; arguments outside are
/// clamped (the simulation never comes near them).
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    // x = n ln2 + r, |r| ≤ ln2 / 2
    let t = x * LOG2E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor series to degree 12: the truncation error is below 2e-16 on |r| ≤ 0.347.
    let p = horner(
        r,
        [
            1.0 / 479_001_600.0,
            1.0 / 39_916_800.0,
            1.0 / 3_628_800.0,
            1.0 / 362_880.0,
            1.0 / 40_320.0,
            1.0 / 5_040.0,
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ],
    );
    // 2^n from the integer sitting in the low bits of t.
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// Natural logarithm of a positive, finite, normal `x`, relative error about 1e-16.
/// `x = m 2^e` with m in [√½, √2); ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, by
/// its odd series to s²¹ (truncation below 1e-17).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let m = f64::from_bits((bits & MANTISSA) | (1023 << 52));
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { 0.5 * m } else { m };
    let e = f64::from(exponent + i32::from(big));
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let p = horner(
        z,
        [
            1.0 / 21.0,
            1.0 / 19.0,
            1.0 / 17.0,
            1.0 / 15.0,
            1.0 / 13.0,
            1.0 / 11.0,
            1.0 / 9.0,
            1.0 / 7.0,
            1.0 / 5.0,
            1.0 / 3.0,
            1.0,
        ],
    );
    e * LN2_HI + (e * LN2_LO + 2.0 * s * p)
}

/// (sin θ, cos θ) for θ = q π/2 + φ, quadrant `q` in 0..4 and |φ| ≤ π/4, by Taylor
/// polynomials to φ¹⁵ and φ¹⁶ (truncation below 5e-17) and the quadrant's symmetries.
#[inline(always)]
pub fn sincos_quadrant(q: u64, phi: f64) -> (f64, f64) {
    let z = phi * phi;
    let s = horner(
        z,
        [
            -1.0 / 1_307_674_368_000.0,
            1.0 / 6_227_020_800.0,
            -1.0 / 39_916_800.0,
            1.0 / 362_880.0,
            -1.0 / 5_040.0,
            1.0 / 120.0,
            -1.0 / 6.0,
        ],
    );
    let sin = phi + phi * (z * s);
    let c = horner(
        z,
        [
            1.0 / 20_922_789_888_000.0,
            -1.0 / 87_178_291_200.0,
            1.0 / 479_001_600.0,
            -1.0 / 3_628_800.0,
            1.0 / 40_320.0,
            -1.0 / 720.0,
            1.0 / 24.0,
            -0.5,
        ],
    );
    let cos = 1.0 + z * c;
    // sin(qπ/2 + φ), cos(qπ/2 + φ): odd quadrants swap the two, and the sign flips are
    // exact (sign-bit xor).
    let (x, y) = if q & 1 == 1 { (cos, sin) } else { (sin, cos) };
    let sin_sign = (q >> 1) & 1;
    let cos_sign = (q ^ (q >> 1)) & 1;
    (f64::from_bits(x.to_bits() ^ (sin_sign << 63)), f64::from_bits(y.to_bits() ^ (cos_sign << 63)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_a_few_ulps() {
        let mut worst: f64 = 0.0;
        let mut x = -700.0;
        while x < 700.0 {
            let rel = (exp(x) - x.exp()).abs() / x.exp();
            worst = worst.max(rel);
            x += 0.012_345;
        }
        assert!(worst < 1e-15, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1e9) >= 0.0 && exp(1e9).is_finite());
    }

    #[test]
    fn ln_matches_std_to_a_few_ulps() {
        let mut worst: f64 = 0.0;
        let mut x = 1e-300;
        while x < 1e300 {
            let err = (ln(x) - x.ln()).abs() / x.ln().abs().max(1.0);
            worst = worst.max(err);
            x *= 1.000_123_7;
        }
        assert!(worst < 4e-16, "worst error {worst}");
        assert_eq!(ln(1.0), 0.0);
        assert!((ln(2f64.powi(-52)) + 52.0 * std::f64::consts::LN_2).abs() < 1e-14);
    }

    #[test]
    fn sincos_matches_std_in_every_quadrant() {
        let mut worst: f64 = 0.0;
        for q in 0..4u64 {
            for j in 0..=10_000 {
                let phi = std::f64::consts::FRAC_PI_4 * (j as f64 / 5_000.0 - 1.0);
                let theta = q as f64 * std::f64::consts::FRAC_PI_2 + phi;
                let (s, c) = sincos_quadrant(q, phi);
                worst = worst.max((s - theta.sin()).abs()).max((c - theta.cos()).abs());
            }
        }
        assert!(worst < 1e-15, "worst error {worst}");
    }
}
