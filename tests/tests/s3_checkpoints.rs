//! Checkpoints on a real S3 server (moto). `pathgrid coordinator --store s3://…` writes
//! there (and rejects other schemes). `pathgrid batch` retried by AWS Batch: attempt 1 is
//! killed (SIGKILL, no chance to clean up) after it has checkpointed part of the job to
//! `s3://<bucket>/checkpoints/<Batch job id>/`; attempt 2 of the same Batch job takes the
//! job's lease over at once, resumes from that checkpoint and writes a result bit-identical
//! to an uninterrupted run, doing fewer batch tasks than the whole job needs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_coordinator::checkpoint::{Checkpoint, decode};
use pathgrid_pricing::{Phase, Problem, parse_job, price_job_sequential};
use pathgrid_protocol::{JobPhase, JobResult};
use pathgrid_store::{S3Store, Store};
use pathgrid_tests::moto::Moto;
use serde_json::json;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "batch-retry";
const BATCH_JOB: &str = "retry-job-1";
const LIMIT: Duration = Duration::from_secs(180);

/// Big enough that attempt 1 is still running a second or two after its first checkpoint.
fn spec() -> String {
    json!({
        "name": "retry", "seed": 2026, "paths": 200000, "training_paths": 100000, "batch_size": 2048,
        "instruments": [
            { "id": "put-36",
              "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
              "payoff": { "type": "put", "strike": 40.0 },
              "exercise": { "style": "bermudan", "maturity": 1.0, "steps": 50 } }
        ]
    })
    .to_string()
}

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn attempt(moto: &Moto, attempt: u32) -> Process {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    Command::new(pathgrid_tests::pathgrid_bin())
        .arg("batch")
        .env("AWS_BATCH_JOB_NODE_INDEX", "0")
        .env("AWS_BATCH_JOB_MAIN_NODE_INDEX", "0")
        .env("AWS_BATCH_JOB_NUM_NODES", "1")
        // As a multi-node job's main node sees it.
        .env("AWS_BATCH_JOB_ID", format!("{BATCH_JOB}#0"))
        .env("AWS_BATCH_JOB_ATTEMPT", attempt.to_string())
        .env("PATHGRID_PORT", port.to_string())
        .env("PATHGRID_LISTEN_HOST", "127.0.0.1")
        .env("PATHGRID_WAIT_FOR_NODES_SECS", "10")
        .env("PATHGRID_JOB_INPUT", format!("s3://{BUCKET}/inputs/retry.json"))
        .env_remove("PATHGRID_CHECKPOINTS")
        .envs(moto.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Process)
        .unwrap()
}

fn log(child: &mut Process) -> String {
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

/// The job's checkpoint as attempt N left it, verified.
async fn checkpoint(checkpoints: &S3Store) -> Option<Checkpoint> {
    let key = checkpoints.list("jobs/").await.unwrap().into_iter().next()?;
    let bytes = checkpoints.get(&key, 1 << 30).await.ok()?;
    Some(decode(&bytes).unwrap_or_else(|e| panic!("{key}: {e}")))
}

/// Batch results this checkpoint already holds.
fn done(cp: &Checkpoint, training_batches: u64) -> u64 {
    cp.instruments
        .iter()
        .map(|i| (i.solved.len() - i.solved_from) as u64 * training_batches + i.pricing.len() as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_attempt_is_resumed_by_the_next_one_with_identical_result() {
    let text = spec();
    let job = parse_job(&text).unwrap();
    let expected = price_job_sequential(&job).unwrap();
    let problems = Problem::all(&job);
    assert_eq!(problems.len(), 1);
    let training_batches = problems[0].batches(Phase::Training);
    let total = problems[0].regression_dates() as u64 * training_batches + problems[0].batches(Phase::Pricing);

    let moto = Moto::start();
    let s3 = moto.s3().await;
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let bucket = S3Store::new(s3.clone(), BUCKET, "");
    bucket.put("inputs/retry.json", text.into_bytes()).await.unwrap();
    let checkpoints = S3Store::new(s3.clone(), BUCKET, format!("checkpoints/{BATCH_JOB}"));

    // Attempt 1: killed as soon as its checkpoint holds finished work.
    let mut first = attempt(&moto, 1);
    let deadline = Instant::now() + LIMIT;
    let saved = loop {
        if let Some(cp) = checkpoint(&checkpoints).await
            && done(&cp, training_batches) > 0
        {
            break cp;
        }
        if let Some(status) = first.0.try_wait().unwrap() {
            panic!("attempt 1 ended ({status}) before it was killed:\n{}", log(&mut first));
        }
        assert!(Instant::now() < deadline, "attempt 1 wrote no progress in {LIMIT:?}:\n{}", log(&mut first));
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let first_log = log(&mut first);
    assert!(!saved.status.is_terminal(), "{:?}", saved.status);
    assert!(
        bucket.get("results/retry.json", 1 << 24).await.is_err(),
        "attempt 1 finished before it was killed: make the job bigger\n{first_log}"
    );

    // Attempt 2 of the same Batch job: its lease supersedes attempt 1's live one.
    let mut second = attempt(&moto, 2);
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "attempt 2 did not finish in {LIMIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let second_log = log(&mut second);
    assert!(status.success(), "attempt 2 failed ({status}):\n{second_log}");
    assert!(second_log.contains("resuming the previous attempt's job"), "{second_log}");

    let result: JobResult = serde_json::from_slice(&bucket.get("results/retry.json", 1 << 24).await.unwrap()).unwrap();
    assert_eq!(result.results, expected, "the resumed result differs from an uninterrupted run");

    // Who did what: attempt 2 redid less than the whole job.
    let last = checkpoint(&checkpoints).await.unwrap();
    assert_eq!(last.status, JobPhase::Succeeded);
    let owners: Vec<&str> = last.runs.iter().map(|r| r.owner.as_str()).collect();
    assert_eq!(owners, [format!("batch:{BATCH_JOB}#1"), format!("batch:{BATCH_JOB}#2")]);
    let redone = last.runs[1].training_tasks + last.runs[1].pricing_tasks;
    assert!(redone > 0 && redone < total, "attempt 2 ran {redone} of {total} tasks");
    assert!(redone + done(&saved, training_batches) <= total, "attempt 2 redid work the checkpoint held");
}

/// `--store s3://bucket/prefix` checkpoints into the bucket (not into a local folder named
/// `s3:`), and a store URL of another scheme is invalid input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_store_url_means_s3_and_unknown_schemes_exit_2() {
    let out = Command::new(pathgrid_tests::pathgrid_bin())
        .args(["coordinator", "--listen", "127.0.0.1:0", "--store", "foo://x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--store") && err.contains("foo://x"), "{err}");

    let moto = Moto::start();
    let s3 = moto.s3().await;
    s3.create_bucket().bucket("coord-ckpt").send().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut coordinator = Command::new(pathgrid_tests::pathgrid_bin())
        .args(["coordinator", "--listen", &format!("127.0.0.1:{port}"), "--store", "s3://coord-ckpt/team/a"])
        .args(["--endpoint-url", &moto.endpoint()])
        .envs(moto.env())
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Process)
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut nc = pathgrid_node::NodeConfig::new(url.clone());
    nc.slots = 2;
    let node = tokio::spawn(pathgrid_node::run(nc, stop.clone()));
    let deadline = Instant::now() + LIMIT;
    let mut client = loop {
        match pathgrid_coordinator::Client::connect(&url, None).await {
            Ok(c) => break c,
            Err(e) => {
                if let Some(status) = coordinator.0.try_wait().unwrap() {
                    panic!("coordinator exited ({status}):\n{}", log(&mut coordinator));
                }
                assert!(Instant::now() < deadline, "coordinator not reachable: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let small = json!({ "name": "s3-store", "seed": 5, "paths": 4000, "batch_size": 1024, "instruments": [
        { "id": "p", "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
          "payoff": { "type": "put", "strike": 40.0 },
          "exercise": { "style": "bermudan", "maturity": 1.0, "steps": 5 } } ] })
    .to_string();
    let spec = pathgrid_pricing::parse_spec(&small).unwrap();
    let id = client.submit(&spec).await.unwrap();
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(result.results, price_job_sequential(&parse_job(&small).unwrap()).unwrap());

    let store = S3Store::new(s3.clone(), "coord-ckpt", "team/a");
    let bytes = store.get(&format!("jobs/{id}.ckpt"), 1 << 24).await.unwrap();
    let cp = decode(&bytes).unwrap();
    assert_eq!((cp.job_id.as_str(), cp.status), (id.as_str(), JobPhase::Succeeded));
    assert_eq!(store.list(&format!("leases/{id}/")).await.unwrap().len(), 1);
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0, "something was written locally");

    stop.cancel();
    let _ = tokio::time::timeout(LIMIT, node).await;
}
