#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `pathgrid` binary as users and scripts drive it: exit codes, one JSON document on
//! stdout with `--json`, the workshop CSV round trip.

use pathgrid_tests::{pathgrid_bin, workspace_root};
use std::process::Command;

fn pathgrid(args: &[&str]) -> std::process::Output {
    Command::new(pathgrid_bin()).args(args).current_dir(workspace_root()).output().expect("pathgrid runs")
}

#[test]
fn run_json_prints_exactly_one_result_document() {
    let out = pathgrid(&["run", "examples/ls2001-put.json", "--json", "--paths", "20000", "--nodes", "2"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["name"], "ls2001-put");
    let r = &v["results"][0];
    assert_eq!(r["id"], "put-36");
    let (price, se) = (r["price"].as_f64().unwrap(), r["std_error"].as_f64().unwrap());
    assert!((price - 4.478).abs() < 3.0 * se + 0.01, "{price} ± {se}");
    assert_eq!(v["stats"]["seed"], 42);
    assert_eq!(v["stats"]["paths"], 20000);
}

#[test]
fn run_is_deterministic_across_node_counts() {
    let a = pathgrid(&["run", "examples/basket-put.json", "--json", "--paths", "8000", "--nodes", "1"]);
    let b = pathgrid(&["run", "examples/basket-put.json", "--json", "--paths", "8000", "--nodes", "2"]);
    assert!(a.status.success() && b.status.success());
    let ra: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let rb: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(ra["results"], rb["results"]);
}

#[test]
fn workshop_csv_gets_price_columns_in_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let out_csv = dir.path().join("priced.csv");
    let out =
        pathgrid(&["run", "examples/workshop-portfolio.csv", "--paths", "4000", "--output", out_csv.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let input = std::fs::read_to_string(workspace_root().join("examples/workshop-portfolio.csv")).unwrap();
    let priced = std::fs::read_to_string(&out_csv).unwrap();
    let in_lines: Vec<&str> = input.lines().filter(|l| !l.trim().is_empty()).collect();
    let out_lines: Vec<&str> = priced.lines().collect();
    assert_eq!(in_lines.len(), out_lines.len());
    assert!(out_lines[0].ends_with(",price,std_error,ci95_low,ci95_high"));
    for (i, o) in in_lines.iter().zip(&out_lines).skip(1) {
        assert!(o.starts_with(i.trim_end()), "{o} does not extend {i}");
        let cells: Vec<&str> = o.split(',').collect();
        let price: f64 = cells[cells.len() - 4].parse().unwrap();
        let (low, high): (f64, f64) =
            (cells[cells.len() - 2].parse().unwrap(), cells[cells.len() - 1].parse().unwrap());
        assert!(price > 0.0);
        assert!(low <= price && price <= high, "{o}");
    }
}

#[test]
fn invalid_spec_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let text = std::fs::read_to_string(workspace_root().join("examples/ls2001-put.json")).unwrap();
    std::fs::write(&bad, text.replace("\"vol\": 0.2", "\"vol\": -0.2")).unwrap();
    for cmd in ["run", "validate"] {
        let out = pathgrid(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("instruments[0].model.vol"), "{cmd}: {err}");
    }
    std::fs::write(&bad, "{ not json").unwrap();
    let out = pathgrid(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = pathgrid(&["validate", "does-not-exist.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.json"));
}

#[test]
fn validate_accepts_every_example() {
    for f in ["ls2001-put.json", "basket-put.json", "max-call-2.json", "max-call-5.json", "workshop-portfolio.csv"] {
        let out = pathgrid(&["validate", &format!("examples/{f}")]);
        assert!(out.status.success(), "{f}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    }
}
