//! Closed forms: standard normal CDF and Black–Scholes–Merton prices.

/// Standard normal cumulative distribution, absolute error below 1e-14
/// (Hart's algorithm 5666 as given by West, "Better approximations to cumulative normal
/// functions", 2005).
pub fn norm_cdf(x: f64) -> f64 {
    let xabs = x.abs();
    let c = if xabs > 37.0 {
        0.0
    } else {
        let e = libm::exp(-xabs * xabs / 2.0);
        if xabs < 7.071_067_811_865_47 {
            let mut b = 3.526_249_659_989_11e-2 * xabs + 0.700_383_064_443_688;
            b = b * xabs + 6.373_962_203_531_65;
            b = b * xabs + 33.912_866_078_383;
            b = b * xabs + 112.079_291_497_871;
            b = b * xabs + 221.213_596_169_931;
            b = b * xabs + 220.206_867_912_376;
            let num = e * b;
            let mut d = 8.838_834_764_831_84e-2 * xabs + 1.755_667_163_182_64;
            d = d * xabs + 16.064_177_579_207;
            d = d * xabs + 86.780_732_202_946_1;
            d = d * xabs + 296.564_248_779_674;
            d = d * xabs + 637.333_633_378_831;
            d = d * xabs + 793.826_512_519_948;
            d = d * xabs + 440.413_735_824_752;
            num / d
        } else {
            let mut b = xabs + 0.65;
            b = xabs + 4.0 / b;
            b = xabs + 3.0 / b;
            b = xabs + 2.0 / b;
            b = xabs + 1.0 / b;
            e / b / 2.506_628_274_631
        }
    };
    if x > 0.0 { 1.0 - c } else { c }
}

/// Black–Scholes–Merton price of a European call (`call = true`) or put, with continuous
/// dividend yield `q`, time to expiry `t` in years. At `t = 0` it is the payoff.
pub fn price(call: bool, spot: f64, strike: f64, rate: f64, q: f64, vol: f64, t: f64) -> f64 {
    if t <= 0.0 || vol <= 0.0 {
        let fwd = spot * libm::exp((rate - q) * t.max(0.0));
        let df = libm::exp(-rate * t.max(0.0));
        let intrinsic = if call { fwd - strike } else { strike - fwd };
        return df * intrinsic.max(0.0);
    }
    let sqrt_t = t.sqrt();
    let d1 = (libm::log(spot / strike) + (rate - q + 0.5 * vol * vol) * t) / (vol * sqrt_t);
    let d2 = d1 - vol * sqrt_t;
    let df_q = libm::exp(-q * t);
    let df_r = libm::exp(-rate * t);
    if call {
        spot * df_q * norm_cdf(d1) - strike * df_r * norm_cdf(d2)
    } else {
        strike * df_r * norm_cdf(-d2) - spot * df_q * norm_cdf(-d1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_known_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((norm_cdf(1.96) - 0.975_002_104_851_780).abs() < 1e-13);
        assert!((norm_cdf(-3.0) - 0.001_349_898_031_630_095).abs() < 1e-15);
    }

    #[test]
    fn put_call_parity_and_known_price() {
        let (s, k, r, q, v, t) = (36.0, 40.0, 0.06, 0.0, 0.2, 1.0);
        let c = price(true, s, k, r, q, v, t);
        let p = price(false, s, k, r, q, v, t);
        assert!((c - p - (s * (-q * t).exp() - k * (-r * t).exp())).abs() < 1e-12);
        // European put of Longstaff–Schwartz Table 1 (S=36, σ=0.2, T=1): 3.844
        assert!((p - 3.844).abs() < 5e-4, "{p}");
    }
}
