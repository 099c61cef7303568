#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments)]
//! Helpers shared by the cross-crate integration tests under `tests/`.

pub mod cluster;
pub mod moto;
pub mod pki;

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

/// A free port on 127.0.0.1 (for a process that must be restarted on the same address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process whose stdout and stderr go to files; killed (SIGKILL) and reaped on drop,
/// so a failing test leaves nothing running.
#[derive(Debug)]
pub struct Proc {
    child: std::process::Child,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    /// Starts `pathgrid args…`, logging to `<logs>/<name>.out` and `.err`.
    pub fn pathgrid(logs: &std::path::Path, name: &str, args: &[&str]) -> Proc {
        let stdout = logs.join(format!("{name}.out"));
        let stderr = logs.join(format!("{name}.err"));
        let child = std::process::Command::new(pathgrid_bin())
            .args(args)
            .current_dir(workspace_root())
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start pathgrid {args:?}: {e}"));
        Proc { child, name: name.to_string(), stdout, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`STOP`, `CONT`, `KILL`, `TERM`) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("kill -{signal}: {e}"));
        assert!(status.success(), "kill -{signal} {} ({}) failed", self.pid(), self.name);
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the process to exit (killing it after `limit`); returns its exit code,
    /// stdout and stderr.
    pub fn finish(mut self, limit: std::time::Duration) -> (Option<i32>, String, String) {
        let deadline = std::time::Instant::now() + limit;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not exit within {limit:?}; stderr:\n{}", self.name, self.stderr());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        (code, out, self.stderr())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
