//! Put–call symmetry: an early-exercise call priced as the put it equals.
//!
//! Under geometric Brownian motion, an American (or Bermudan, on the same dates) call on
//! spot S with strike K, rate r and dividend yield q is worth exactly the put on spot K with
//! strike S, rate q and dividend yield r (McDonald & Schroder 1998): change to the stock as
//! numeraire. The put's continuation value is bounded by its strike, so least squares learns
//! its exercise rule far better than the call's, whose exercise region reaches out to spots
//! that few paths visit. A call exercised when S_t ≥ b(t) corresponds to the put exercised
//! when S'_t ≤ S'_0·K'/b(t), so the boundary maps back with [`boundary_to_call`].

use crate::model::Gbm;
use crate::payoff::Payoff;

/// The symmetric put of a one-asset vanilla call, or `None` when the rule does not apply.
pub fn call_as_put(model: &Gbm, payoff: &Payoff) -> Option<(Gbm, Payoff)> {
    let Payoff::Call { strike, weights: None } = payoff else { return None };
    if model.assets() != 1 {
        return None;
    }
    let put_model = Gbm {
        spot: vec![*strike],
        vol: model.vol.clone(),
        dividend: vec![model.rate],
        rate: model.dividend[0],
        chol: None,
    };
    Some((put_model, Payoff::Put { strike: model.spot[0], weights: None }))
}

/// The call's exercise spot for the symmetric put's boundary spot `b` (`put_spot` = the call's
/// strike, `put_strike` = the call's spot).
pub fn boundary_to_call(b: f64, put_spot: f64, put_strike: f64) -> f64 {
    put_spot * put_strike / b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::black_scholes;

    #[test]
    fn european_values_agree() {
        let m = Gbm { spot: vec![88.25], vol: vec![0.528], dividend: vec![0.0503], rate: 0.0842, chol: None };
        let call = Payoff::Call { strike: 82.0, weights: None };
        let (pm, pp) = call_as_put(&m, &call).unwrap();
        let c = black_scholes::price(true, 88.25, 82.0, 0.0842, 0.0503, 0.528, 1.3);
        let p = black_scholes::price(false, pm.spot[0], pp.strike(), pm.rate, pm.dividend[0], 0.528, 1.3);
        assert!((c - p).abs() < 1e-10, "{c} vs {p}");
        assert_eq!(pp.value(&pm.spot), call.value(&m.spot));
        assert!((boundary_to_call(82.0 * 88.25 / 150.0, 82.0, 88.25) - 150.0).abs() < 1e-9);
    }

    #[test]
    fn only_one_asset_vanilla_calls() {
        let m = Gbm { spot: vec![100.0], vol: vec![0.2], dividend: vec![0.0], rate: 0.05, chol: None };
        assert!(call_as_put(&m, &Payoff::Put { strike: 100.0, weights: None }).is_none());
        assert!(call_as_put(&m, &Payoff::Call { strike: 100.0, weights: Some(vec![2.0]) }).is_none());
    }
}
