#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Honest prices: the 95% interval holds the American value, and the price is close to it.
//!
//! The reference values are pathgrid's own, made with QuantLib's finite-difference engine by
//! `bench/make_reference.py` (settings in `tests/reference/american_fd.json`). Each case counts
//! as held when the reference, widened by its own FD error, meets `ci95`. The point error is
//! checked against `4 × std_error + BIAS_BOUND`: the bias of a low-biased price with these path
//! counts, as measured, plus margin.

use pathgrid_tests::{job_spec, price, workspace_root};
use serde_json::{Value, json};

/// Coverage the interval must reach on each set (the contract is 95%; 90% leaves room for the
/// Monte Carlo luck of one seed on a few dozen options).
const MIN_COVERAGE: f64 = 0.90;

fn reference() -> Value {
    let path = workspace_root().join("tests/reference/american_fd.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn instrument(c: &Value) -> Value {
    json!({
        "id": c["id"],
        "model": {"type": "gbm", "spot": c["spot"], "vol": c["vol"], "rate": c["rate"], "dividend": c["dividend"]},
        "payoff": {"type": c["type"], "strike": c["strike"]},
        "exercise": {"style": "american", "maturity": c["maturity"]}
    })
}

/// Prices `cases` as American options (engine-chosen dates) and checks coverage and errors.
fn check_set(name: &str, cases: &[Value], paths: u64, bias_bound: f64) {
    let spec = job_spec(name, 2024, paths, paths / 2, cases.iter().map(instrument).collect());
    let results = price(&spec, 2);
    assert_eq!(results.len(), cases.len());
    let mut held = 0;
    let mut report = Vec::new();
    for (c, r) in cases.iter().zip(&results) {
        assert_eq!(r.id, c["id"].as_str().unwrap());
        let fd = c["american_fd"].as_f64().unwrap();
        let fd_err = c["american_fd_error"].as_f64().unwrap().max(1e-4);
        let [low, high] = r.ci95;
        assert!(low <= r.price && r.price <= high, "{}: price outside its own interval", r.id);
        if low - fd_err <= fd && fd <= high + fd_err {
            held += 1;
        } else {
            report.push(format!("{}: fd {fd:.5} outside [{low:.5}, {high:.5}]", r.id));
        }
        let err = (r.price - fd).abs();
        assert!(
            err <= 4.0 * r.std_error + bias_bound + fd_err,
            "{}: price {:.5} is {err:.5} from fd {fd:.5} (std_error {:.5}, bias bound {bias_bound})",
            r.id,
            r.price,
            r.std_error
        );
    }
    let coverage = held as f64 / cases.len() as f64;
    eprintln!("{name}: interval holds fd for {held}/{}", cases.len());
    assert!(coverage >= MIN_COVERAGE, "{name}: coverage {held}/{} below {MIN_COVERAGE}: {report:#?}", cases.len());
}

fn set(name: &str) -> Vec<Value> {
    reference()["sets"][name].as_array().unwrap().clone()
}

#[test]
fn ls2001_intervals_hold_the_american_values() {
    // 40k pricing and 20k training paths; the policy's low bias stays below 0.02 here.
    check_set("ls2001", &set("ls2001"), 40_000, 0.02);
}

#[test]
fn workshop_style_intervals_hold_the_american_values() {
    // The first 40 of the 100 short-dated puts and calls.
    let cases: Vec<Value> = set("workshop").into_iter().take(40).collect();
    check_set("workshop", &cases, 20_000, 0.04);
}

#[test]
fn dividend_intervals_hold_the_american_values() {
    let cases: Vec<Value> = set("dividends").into_iter().take(20).collect();
    check_set("dividends", &cases, 40_000, 0.05);
}

#[test]
fn bermudan_bounds_bracket_the_bermudan_values() {
    // The LS2001 puts as Bermudan options on 50 dates a year: the dual upper bound and the
    // low-biased price hold the FD Bermudan value between them, up to Monte Carlo error.
    let cases = set("ls2001");
    let instruments = cases
        .iter()
        .map(|c| {
            let mut i = instrument(c);
            i["exercise"] = json!({"style": "bermudan", "maturity": c["maturity"], "steps": c["bermudan_steps"]});
            i
        })
        .collect();
    let results = price(&job_spec("bermudan", 7, 40_000, 20_000, instruments), 2);
    let mut held = 0;
    for (c, r) in cases.iter().zip(&results) {
        let fd = c["bermudan_fd"].as_f64().unwrap();
        let lower = r.lower_bound.expect("lower bound");
        let upper = r.upper_bound.expect("dual upper bound");
        assert!(lower.value <= upper.value + 3.0 * upper.std_error, "{}: bounds cross", r.id);
        if lower.value - 3.0 * lower.std_error <= fd && fd <= upper.value + 3.0 * upper.std_error {
            held += 1;
        }
    }
    assert!(held >= 18, "bracket holds the Bermudan value for only {held}/20");
}
