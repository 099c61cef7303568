#![allow(clippy::unwrap_used, clippy::expect_used)]
//! European prices against Black–Scholes, put–call parity, and the classic result that
//! an American call without dividends is worth its European price.

use pathgrid_pricing::black_scholes;
use pathgrid_tests::{job_spec, price, vanilla};

const PATHS: u64 = 200_000;

#[test]
fn european_monte_carlo_agrees_with_black_scholes() {
    let cases = [
        ("put", 36.0, 40.0, 0.2, 0.06, 0.0, 1.0),
        ("call", 100.0, 100.0, 0.3, 0.03, 0.01, 0.5),
        ("put", 50.0, 45.0, 0.4, 0.01, 0.02, 2.0),
        ("call", 40.0, 44.0, 0.15, 0.05, 0.0, 1.5),
    ];
    for (i, &(kind, s, k, v, r, q, t)) in cases.iter().enumerate() {
        let spec = job_spec("euro", 10 + i as u64, PATHS, 2, vec![vanilla("e", kind, s, k, v, r, q, "european", t, 1)]);
        let res = &price(&spec, 2)[0];
        let bs = black_scholes::price(kind == "call", s, k, r, q, v, t);
        assert!((res.european_price - bs).abs() < 1e-12, "reported European price is the closed form");
        assert!(res.std_error > 0.0);
        assert!(
            (res.price - bs).abs() <= 3.0 * res.std_error,
            "{kind} S={s} K={k}: MC {} ± {} vs Black–Scholes {bs}",
            res.price,
            res.std_error
        );
        assert!(res.early_exercise_premium.abs() <= 3.0 * res.std_error);
    }
}

#[test]
fn put_call_parity_holds_on_common_paths() {
    let (s, k, v, r, q, t) = (42.0, 40.0, 0.25, 0.05, 0.02, 1.0);
    // Same seed and instrument position: the put and the call see the same paths.
    let call = &price(&job_spec("c", 7, PATHS, 2, vec![vanilla("c", "call", s, k, v, r, q, "european", t, 1)]), 2)[0];
    let put = &price(&job_spec("p", 7, PATHS, 2, vec![vanilla("p", "put", s, k, v, r, q, "european", t, 1)]), 2)[0];
    let forward = s * (-q * t).exp() - k * (-r * t).exp();
    assert!((call.european_price - put.european_price - forward).abs() < 1e-10);
    let diff = call.price - put.price;
    let tol = 3.0 * (call.std_error + put.std_error);
    assert!((diff - forward).abs() <= tol, "C - P = {diff}, forward {forward}, tol {tol}");
}

#[test]
fn american_call_without_dividends_is_worth_its_european_price() {
    let spec = job_spec(
        "call",
        3,
        PATHS,
        100_000,
        vec![vanilla("c", "call", 40.0, 40.0, 0.3, 0.05, 0.0, "american", 1.0, 50)],
    );
    let res = &price(&spec, 2)[0];
    let bs = black_scholes::price(true, 40.0, 40.0, 0.05, 0.0, 0.3, 1.0);
    assert!(
        (res.price - bs).abs() <= 3.0 * res.std_error + 0.01,
        "American call {} ± {} vs European {bs}",
        res.price,
        res.std_error
    );
}

#[test]
fn american_put_is_worth_at_least_its_european_price_and_intrinsic() {
    let spec =
        job_spec("deep", 4, 50_000, 20_000, vec![vanilla("p", "put", 20.0, 40.0, 0.2, 0.06, 0.0, "american", 1.0, 50)]);
    let res = &price(&spec, 2)[0];
    assert!(res.price >= 20.0 - 1e-12, "deep in the money put: {}", res.price);
    assert!(res.price >= res.european_price);
}
