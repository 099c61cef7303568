#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile and careless input to the `pathgrid` binary, one reproduction of the hardening
//! issue each: the exit code, the message, and no hang (every run is bounded by a generous
//! timeout that kills it).

use pathgrid_tests::{pathgrid_within, workspace_root};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn pathgrid(args: &[&str]) -> Output {
    pathgrid_within(LIMIT, args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit code 2 and that stderr holds every one of `needles`.
fn invalid(out: &Output, needles: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
    err
}

fn example() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("examples/ls2001-put.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The small LS2001 job: 2000 paths, 1000 training paths, batches of 500.
fn small() -> Value {
    let mut v = example();
    v["paths"] = json!(2000);
    v["training_paths"] = json!(1000);
    v["batch_size"] = json!(500);
    v
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const CSV_HEADER: &str =
    "id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate";

#[test]
fn overflowing_strike_or_spot_is_refused_with_the_range() {
    let dir = tempfile::tempdir().unwrap();
    for (pointer, value, path) in [
        ("/instruments/0/payoff/strike", json!(1e160), "instruments[0].payoff.strike"),
        ("/instruments/0/model/spot", json!(1e155), "instruments[0].model.spot"),
    ] {
        let mut v = small();
        *v.pointer_mut(pointer).unwrap() = value;
        let spec = write(dir.path(), "big.json", &v.to_string());
        for cmd in ["validate", "run"] {
            invalid(&pathgrid(&[cmd, spec.to_str().unwrap()]), &[path, "1e9"]);
        }
    }
    let csv = write(
        dir.path(),
        "big.csv",
        &format!("{CSV_HEADER}\na,11/15/2024,11/17/2024,Put,36,1e200,0.06,0.2,11/17/2025\n"),
    );
    invalid(&pathgrid(&["run", csv.to_str().unwrap()]), &["row 1, column strike", "1e9"]);
}

#[test]
fn spot_far_from_strike_is_refused_as_a_combination() {
    // Both in range, but the basis powers of their ratio would overflow.
    let dir = tempfile::tempdir().unwrap();
    let mut v = small();
    v["instruments"][0]["model"]["spot"] = json!(1e9);
    v["instruments"][0]["payoff"]["strike"] = json!(1e-6);
    v["basis"] = json!({ "kind": "monomial", "degree": 12 });
    let spec = write(dir.path(), "far.json", &v.to_string());
    invalid(&pathgrid(&["validate", spec.to_str().unwrap()]), &["instruments[0]", "overflow"]);
}

#[test]
fn trailing_content_after_the_document_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(workspace_root().join("examples/ls2001-put.json")).unwrap();
    let spec = write(dir.path(), "c.json", &format!("{text}\n{{\"oops\":1}}\n"));
    invalid(&pathgrid(&["validate", spec.to_str().unwrap()]), &["after the JSON document"]);
    // Trailing whitespace is fine.
    let spec = write(dir.path(), "ok.json", &format!("{text}\n\n  \n"));
    assert!(pathgrid(&["validate", spec.to_str().unwrap()]).status.success());
}

#[test]
fn unwritable_output_is_refused_before_pricing() {
    let out = pathgrid(&["run", "examples/ls2001-put.json", "--output", "/nonexistent/dir/x.json", "--quiet"]);
    invalid(&out, &["--output", "/nonexistent/dir/x.json"]);
    assert!(out.stdout.is_empty(), "nothing was priced, so nothing is printed");
    // A directory is not a file to write.
    let dir = tempfile::tempdir().unwrap();
    invalid(&pathgrid(&["run", "examples/ls2001-put.json", "--output", dir.path().to_str().unwrap()]), &["directory"]);
    // The check leaves no file behind when the run then fails validation.
    let target = dir.path().join("never.json");
    let bad = write(dir.path(), "bad.json", &example().to_string().replace("\"vol\":0.2", "\"vol\":-1"));
    invalid(&pathgrid(&["run", bad.to_str().unwrap(), "--output", target.to_str().unwrap()]), &["vol"]);
    assert!(!target.exists());
}

#[test]
fn options_that_would_be_ignored_or_replaced_are_refused() {
    let csv = "examples/workshop-portfolio.csv";
    invalid(&pathgrid(&["run", "examples/ls2001-put.json", "--steps", "10"]), &["--steps", "CSV", "exercise.steps"]);
    invalid(&pathgrid(&["run", csv, "--steps", "0"]), &["--steps", "0"]);
    invalid(&pathgrid(&["run", csv, "--steps", "100001"]), &["--steps", "100000"]);
    invalid(&pathgrid(&["run", csv, "--nodes", "0"]), &["--nodes", "0"]);
    invalid(&pathgrid(&["node", "--slots", "0"]), &["--slots", "0"]);
    invalid(&pathgrid(&["node", "--slots", "5000"]), &["--slots", "4096"]);
    // The caps are in --help.
    let help = String::from_utf8_lossy(&pathgrid(&["run", "--help"]).stdout).into_owned();
    assert!(help.contains("100000"), "{help}");
    let help = String::from_utf8_lossy(&pathgrid(&["node", "--help"]).stdout).into_owned();
    assert!(help.contains("4096"), "{help}");
}

#[test]
fn csv_steps_beyond_the_cap_name_the_row() {
    // 100000 dates a year on a two-year option is 200000 dates: refused, not capped.
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "long.csv",
        &format!("{CSV_HEADER}\na,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2026\n"),
    );
    invalid(&pathgrid(&["run", csv.to_str().unwrap(), "--steps", "100000"]), &["100000", "row 1"]);
}

#[test]
fn a_wrong_type_names_the_field_not_an_internal_type() {
    let dir = tempfile::tempdir().unwrap();
    for (pointer, path) in [
        ("/instruments/0/model/vol", "instruments[0].model.vol"),
        ("/instruments/0/model/rate", "instruments[0].model.rate"),
        ("/instruments/0/payoff/strike", "instruments[0].payoff.strike"),
    ] {
        let mut v = example();
        *v.pointer_mut(pointer).unwrap() = json!("high");
        let spec = write(dir.path(), "typed.json", &v.to_string());
        let err = invalid(&pathgrid(&["validate", spec.to_str().unwrap()]), &[path]);
        assert!(!err.contains("Scalars") && !err.contains("untagged"), "{err}");
    }
}

#[test]
fn a_json_spec_with_a_byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(workspace_root().join("examples/ls2001-put.json")).unwrap();
    let spec = write(dir.path(), "bom.json", &format!("\u{feff}{text}"));
    let out = pathgrid(&["validate", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn csv_reports_every_problem_of_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "dup.csv",
        &format!(
            "{CSV_HEADER}\na,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025\n\
             a,11/15/2024,11/17/2024,Put,-36,40,0.06,0.2,11/17/2025\n\
             b,11/15/2024,bad,Put,-5,40,0.06,0.2,11/17/2025\n"
        ),
    );
    let err = invalid(
        &pathgrid(&["validate", csv.to_str().unwrap()]),
        &["row 2, column id", "row 2, column underlying", "row 3, column settlementDate", "row 3, column underlying"],
    );
    assert_eq!(err.matches("row 2, column id").count(), 1, "{err}");
}

#[test]
fn a_node_with_a_bad_coordinator_url_exits_at_once() {
    for url in ["not-a-url", "ftp://127.0.0.1:1", "http://"] {
        invalid(&pathgrid(&["node", "--coordinator", url, "--slots", "1"]), &["coordinator url"]);
    }
}

/// A write that fails after pricing (here: a full device) loses nothing: the result goes to
/// stdout and the command fails with the reason.
#[cfg(target_os = "linux")]
#[test]
fn a_result_that_cannot_be_written_is_printed_instead() {
    let out = pathgrid(&["run", "examples/ls2001-put.json", "--paths", "2000", "--output", "/dev/full", "--quiet"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write /dev/full"), "{err}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the result on stdout");
    assert_eq!(printed["status"], "succeeded");
    assert_eq!(printed["results"][0]["id"], "put-36");
}
