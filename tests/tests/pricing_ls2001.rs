#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Longstaff & Schwartz (2001), Table 1: the 20 American puts against the paper's
//! finite-difference values. Each price must lie within 3 standard errors + 0.01
//! (the 0.01 covers the low bias of a 4-function regression policy and the 50-date
//! Bermudan approximation of the American option).

use pathgrid_tests::{job_spec, price, published_values, vanilla};

#[test]
fn twenty_american_puts_match_finite_differences() {
    let reference = published_values();
    let table = &reference["ls2001_table1"];
    let (k, r) = (table["K"].as_f64().unwrap_or(40.0), table["r"].as_f64().unwrap_or(0.06));
    let cases = table["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 20);
    let instruments = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (s, sigma, t) = (c["S"].as_f64().unwrap(), c["sigma"].as_f64().unwrap(), c["T"].as_f64().unwrap());
            vanilla(&format!("case-{i}"), "put", s, k, sigma, r, 0.0, "american", t, (50.0 * t) as u64)
        })
        .collect();
    let spec = job_spec("ls2001-table1", 2001, 100_000, 50_000, instruments);
    let results = price(&spec, 2);
    let mut failures = Vec::new();
    for (c, res) in cases.iter().zip(&results) {
        let fd = c["fd"].as_f64().unwrap();
        let tol = 3.0 * res.std_error + 0.01;
        println!(
            "S={} σ={} T={}: {:.4} ± {:.4} vs FD {fd} (diff {:+.4})",
            c["S"],
            c["sigma"],
            c["T"],
            res.price,
            res.std_error,
            res.price - fd
        );
        if (res.price - fd).abs() > tol {
            failures.push(format!("{c}: price {} ± {} off by {}", res.price, res.std_error, res.price - fd));
        }
        assert!(res.early_exercise_premium > 0.0, "{c}: an American put is worth more than the European");
        assert!(res.exercise_boundary.as_ref().is_some_and(|b| b.len() > 10), "{c}: exercise boundary missing");
    }
    assert!(failures.is_empty(), "outside 3 s.e. + 0.01:\n{}", failures.join("\n"));
}

#[test]
fn exercise_boundary_of_a_put_lies_below_the_strike_and_rises_to_it() {
    let spec = job_spec(
        "boundary",
        5,
        20_000,
        20_000,
        vec![vanilla("p", "put", 36.0, 40.0, 0.2, 0.06, 0.0, "american", 1.0, 50)],
    );
    let res = &price(&spec, 1)[0];
    let boundary = res.exercise_boundary.as_ref().expect("boundary");
    for [t, s] in boundary {
        assert!(*s > 20.0 && *s <= 40.0 + 1e-9, "boundary at t={t} is {s}");
    }
    let first = boundary.first().expect("non-empty")[1];
    let last = boundary.last().expect("non-empty")[1];
    assert!(first < last, "the boundary of an American put rises towards the strike: {first} vs {last}");
}
