#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Bermudan max-call on 2 and 5 independent assets (Andersen & Broadie 2004;
//! Glasserman 2004, sec. 8.6): each price within 1% of the published value.

use pathgrid_tests::{job_spec, price, published_values};
use serde_json::json;

#[test]
fn bermudan_max_call_matches_published_values() {
    let reference = published_values();
    let mc = &reference["bermudan_max_call"];
    let (k, r, q, sigma, t, dates) = (
        mc["K"].as_f64().unwrap(),
        mc["r"].as_f64().unwrap(),
        mc["dividend"].as_f64().unwrap(),
        mc["sigma"].as_f64().unwrap(),
        mc["T"].as_f64().unwrap(),
        mc["dates"].as_u64().unwrap(),
    );
    let cases = mc["cases"].as_array().expect("cases");
    let instruments = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let d = c["d"].as_u64().unwrap() as usize;
            let s0 = c["S0"].as_f64().unwrap();
            json!({
                "id": format!("max-call-{d}-{s0}-{i}"),
                "model": {"type": "gbm", "spot": vec![s0; d], "vol": sigma, "rate": r, "dividend": q},
                "payoff": {"type": "max_call", "strike": k},
                "exercise": {"style": "bermudan", "maturity": t, "steps": dates}
            })
        })
        .collect();
    let spec = job_spec("max-call", 2004, 200_000, 100_000, instruments);
    let results = price(&spec, 2);
    let mut failures = Vec::new();
    for (c, res) in cases.iter().zip(&results) {
        let published = c["price"].as_f64().unwrap();
        let rel = (res.price - published) / published;
        println!(
            "d={} S0={}: {:.4} ± {:.4} vs {published} ({:+.2}%)",
            c["d"],
            c["S0"],
            res.price,
            res.std_error,
            100.0 * rel
        );
        if rel.abs() > 0.01 {
            failures.push(format!("{c}: {} ± {} is {:+.2}% off", res.price, res.std_error, 100.0 * rel));
        }
        assert!(res.exercise_boundary.is_none(), "no scalar boundary for several assets");
        assert!(res.price >= res.european_price - 3.0 * res.std_error, "Bermudan below European: {res:?}");
    }
    assert!(failures.is_empty(), "outside 1%:\n{}", failures.join("\n"));
}
