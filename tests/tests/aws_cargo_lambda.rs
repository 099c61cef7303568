//! The real Lambda runtime loop under cargo-lambda's Runtime API emulator: `cargo lambda watch`
//! builds and runs the `pathgrid-trigger-lambda` binary, `cargo lambda invoke` sends it an S3
//! event for a small spec stored on a moto S3 server, and the priced result must land under
//! `results/` with the same prices as `price_job_sequential`.
//!
//! Needs `cargo lambda` (PyPI `cargo-lambda`) and `moto[server]`: see `scripts/setup.sh --tests`.
//! `cargo lambda watch` builds the function in its own target directory
//! (`${PATHGRID_CACHE:-$HOME/.cache/pathgrid}/lambda-target`), so it never waits for the build
//! lock held by the `cargo test` that runs this test; the first build there takes minutes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_s3::primitives::ByteStream;
use pathgrid_pricing::price_job_sequential;
use pathgrid_protocol::JobResult;
use pathgrid_store::{S3Store, Store};
use pathgrid_tests::moto::Moto;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FUNCTION: &str = "pathgrid-trigger-lambda";
const BUCKET: &str = "cargo-lambda";
/// Upper bound for `cargo lambda watch` to build the function (a cold target directory on a busy
/// two-core machine takes several minutes).
const BUILD_WAIT: Duration = Duration::from_secs(1500);

/// A child started in its own process group; dropping it ends the whole group (cargo, the
/// function, anything they started).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        for signal in ["-TERM", "-KILL"] {
            let _ =
                Command::new("kill").args([signal, "--", &group]).stdout(Stdio::null()).stderr(Stdio::null()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if self.0.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pathgrid-cargo-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lambda_target_dir() -> PathBuf {
    let cache = std::env::var_os("PATHGRID_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache/pathgrid"));
    cache.join("lambda-target")
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Runs `cmd` in its own process group within `limit`: (succeeded, stdout, stderr).
fn run_bounded(cmd: &mut Command, limit: Duration, what: &str) -> (bool, String, String) {
    let dir = scratch_dir();
    let (out, err) = (dir.join(format!("{what}.out")), dir.join(format!("{what}.err")));
    let mut child = Group(
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start ({e}); run scripts/setup.sh --tests")),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{what} did not finish within {limit:?}; stderr:\n{}", log_tail(&err));
        std::thread::sleep(Duration::from_millis(100));
    };
    (status.success(), std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&err).unwrap())
}

#[tokio::test]
async fn cargo_lambda_runs_the_trigger_on_an_s3_event() {
    let started = Instant::now();
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let store = S3Store::connect(BUCKET, "", &moto.options()).await;
    store.client().create_bucket().bucket(BUCKET).send().await.unwrap();
    let spec = json!({
        "name": "cargo-lambda", "seed": 11, "paths": 4000, "batch_size": 1024,
        "instruments": [
            { "id": "put",
              "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06, "dividend": 0.0 },
              "payoff": { "type": "put", "strike": 40.0 },
              "exercise": { "style": "american", "maturity": 1.0, "steps": 10 } },
            { "id": "call",
              "model": { "type": "gbm", "spot": 100.0, "vol": 0.25, "rate": 0.03, "dividend": 0.0 },
              "payoff": { "type": "call", "strike": 105.0 },
              "exercise": { "style": "european", "maturity": 0.5, "steps": 1 } }
        ]
    })
    .to_string();
    let key = "inputs/via cargo lambda é.json";
    let put = store
        .client()
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(spec.clone().into_bytes()))
        .send()
        .await
        .unwrap();
    let event = json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "test" }, "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": {},
        "s3": { "s3SchemaVersion": "1.0", "configurationId": "inputs",
            "bucket": { "name": BUCKET, "ownerIdentity": { "principalId": "test" }, "arn": format!("arn:aws:s3:::{BUCKET}") },
            "object": { "key": "inputs/via+cargo+lambda+%C3%A9.json", "size": spec.len(),
                        "eTag": put.e_tag().unwrap_or_default().trim_matches('"'), "sequencer": "0" } }
    }]})
    .to_string();
    let dir = scratch_dir();
    let event_file = dir.join("event.json");
    std::fs::write(&event_file, &event).unwrap();

    // The emulator: builds the function in its own target directory and runs it against the
    // Runtime API on 127.0.0.1:port.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let port = free_port().to_string();
    let watch_log = dir.join("watch.log");
    let log = std::fs::File::create(&watch_log).unwrap();
    let _watch = Group(
        Command::new("cargo")
            .args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", &port])
            .args(["--package", "pathgrid-trigger", "--bin", FUNCTION, "--ignore-changes"])
            .args(["--env-var", &format!("AWS_ENDPOINT_URL={endpoint}")])
            .args(["--env-var", "AWS_REGION=us-east-1"])
            .args(["--env-var", "AWS_ACCESS_KEY_ID=testing"])
            .args(["--env-var", "AWS_SECRET_ACCESS_KEY=testing"])
            .env("CARGO_TARGET_DIR", lambda_target_dir())
            .env_remove("AWS_PROFILE")
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("cargo lambda watch (run scripts/setup.sh --tests)"),
    );

    // The emulator builds and starts the function on its first invocation: warm it up with an
    // event without records (retried, in case the client gives up during a cold build), so the
    // real invocation's deadline is not spent on the build.
    let warm_up = dir.join("empty.json");
    std::fs::write(&warm_up, r#"{"Records":[]}"#).unwrap();
    let invoke = |data: &Path, limit: Duration, what: &str| {
        run_bounded(
            Command::new("cargo")
                .args(["lambda", "invoke", FUNCTION, "--invoke-address", "127.0.0.1", "--invoke-port", &port])
                .arg("--data-file")
                .arg(data)
                .args(["--output-format", "json"])
                .current_dir(workspace),
            limit,
            what,
        )
    };
    let deadline = Instant::now() + BUILD_WAIT;
    loop {
        let (ok, stdout, stderr) = invoke(&warm_up, BUILD_WAIT, "warm-up");
        if ok {
            let reply: Value = serde_json::from_str(stdout.trim())
                .unwrap_or_else(|e| panic!("warm-up output is not JSON ({e}):\n{stdout}\n{stderr}"));
            assert_eq!(reply, json!({ "outcomes": [] }), "warm-up reply");
            break;
        }
        let log = log_tail(&watch_log);
        assert!(!log.contains("error: ") && !log.contains("error["), "building {FUNCTION} failed:\n{log}");
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not build and start {FUNCTION} within {BUILD_WAIT:?}:\n{stderr}\n{log}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let built = started.elapsed();

    let (ok, stdout, stderr) = invoke(&event_file, Duration::from_secs(180), "invoke");
    assert!(ok, "cargo lambda invoke failed:\n{stdout}\n{stderr}\nwatch log:\n{}", log_tail(&watch_log));
    let response: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("invoke output is not JSON ({e}):\n{stdout}\n{stderr}"));
    for (i, outcome) in response["outcomes"].as_array().expect("outcomes").iter().enumerate() {
        assert_eq!(outcome["outcome"], "priced", "record {i}: {response}");
    }
    assert_eq!(response["outcomes"][0]["result_key"], "results/via cargo lambda é.json", "{response}");

    let text = String::from_utf8(store.get("results/via cargo lambda é.json", 1 << 20).await.unwrap()).unwrap();
    let result: JobResult = serde_json::from_str(&text).unwrap();
    let job = pathgrid_pricing::parse_job(&spec).unwrap();
    let expected_results = price_job_sequential(&job).unwrap();
    assert_eq!(result.results.len(), job.outputs.len(), "{text}");
    for ((output, expected), got) in job.outputs.iter().zip(&expected_results).zip(&result.results) {
        assert_eq!(got.id, output.id, "{text}");
        assert_eq!(got.price.to_bits(), expected.price.to_bits(), "{}: {} vs {}", got.id, got.price, expected.price);
        assert_eq!(got.std_error.to_bits(), expected.std_error.to_bits(), "{}: std_error", got.id);
        eprintln!("cargo lambda: {} {} ± {}", got.id, got.price, got.std_error);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("cargo lambda: built in {built:?}, total {:?}", started.elapsed());
}
