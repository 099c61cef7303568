#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments)]
//! Helpers shared by the cross-crate integration tests under `tests/`.

use pathgrid_pricing::{InstrumentResult, Job, JobSpec};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Published reference prices, vendored in `tests/reference/published_values.json` (each
/// table names its source).
pub fn published_values() -> Value {
    let path = workspace_root().join("tests/reference/published_values.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A one-asset GBM instrument as spec JSON.
pub fn vanilla(
    id: &str,
    kind: &str,
    spot: f64,
    strike: f64,
    vol: f64,
    rate: f64,
    dividend: f64,
    style: &str,
    maturity: f64,
    steps: u64,
) -> Value {
    json!({
        "id": id,
        "model": {"type": "gbm", "spot": spot, "vol": vol, "rate": rate, "dividend": dividend},
        "payoff": {"type": kind, "strike": strike},
        "exercise": {"style": style, "maturity": maturity, "steps": steps}
    })
}

/// A job spec around `instruments`.
pub fn job_spec(name: &str, seed: u64, paths: u64, training_paths: u64, instruments: Vec<Value>) -> JobSpec {
    let v = json!({"name": name, "seed": seed, "paths": paths, "training_paths": training_paths, "instruments": instruments});
    serde_json::from_value(v).unwrap_or_else(|e| panic!("test spec does not parse: {e}"))
}

pub fn validated(spec: &JobSpec) -> Job {
    spec.validate().unwrap_or_else(|e| panic!("test spec is invalid: {e}"))
}

/// Prices a job on the local thread pool.
pub fn price(spec: &JobSpec, threads: usize) -> Vec<InstrumentResult> {
    pathgrid_cli::local_runner::run_job(&validated(spec), threads, &|_| {})
        .unwrap_or_else(|e| panic!("pricing failed: {e}"))
}

/// Path to the `pathgrid` binary built alongside the tests (same profile directory).
pub fn pathgrid_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no current exe: {e}"));
    // target/<profile>/deps/<test-binary> -> target/<profile>/pathgrid
    let dir = exe.parent().and_then(|d| d.parent()).unwrap_or_else(|| panic!("unexpected test path {}", exe.display()));
    let bin = dir.join("pathgrid");
    assert!(bin.exists(), "{} not built: run the tests with `cargo test --workspace`", bin.display());
    bin
}

/// Runs the `pathgrid` binary from the workspace root with `args`, killing it and failing the
/// test if it runs past `limit` (a hang guard, not a timing assertion).
pub fn pathgrid_within(limit: std::time::Duration, args: &[&str]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(pathgrid_bin())
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("pathgrid does not start: {e}"));
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!("pathgrid {args:?} still running after {limit:?}; stderr: {}", String::from_utf8_lossy(&stderr));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
}
