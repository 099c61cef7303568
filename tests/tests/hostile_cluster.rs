#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile input against a real coordinator on 127.0.0.1 (gRPC, real nodes, the `pathgrid`
//! binary as the client): a poisoned job is refused or fails with a named reason, and a
//! healthy job beside it finishes with the reference result; no input hangs anything
//! (every wait is bounded by a generous timeout).

use pathgrid_coordinator::{CheckpointStore, Client, CoordinatorConfig, Error};
use pathgrid_pricing::{JobSpec, parse_spec, price_job_sequential};
use pathgrid_proto::v1::{self, coordinator_message::Msg as Down, node_message::Msg as Up};
use pathgrid_tests::cluster::{Coordinator, LIMIT, Node};
use pathgrid_tests::pathgrid_within;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

/// Runs the `pathgrid` binary off the async threads.
async fn pathgrid(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pathgrid_within(LIMIT, &args)
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ls2001(name: &str) -> Value {
    json!({ "name": name, "seed": 42, "paths": 2000, "training_paths": 1000, "batch_size": 500,
        "instruments": [ { "id": "put-36",
          "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
          "payoff": { "type": "put", "strike": 40.0 },
          "exercise": { "style": "american", "maturity": 1.0, "steps": 10 } } ] })
}

fn european(name: &str) -> Value {
    let mut v = ls2001(name);
    v["instruments"][0]["exercise"] = json!({ "style": "european", "maturity": 1.0 });
    v
}

fn spec(v: &Value) -> JobSpec {
    parse_spec(&v.to_string()).unwrap()
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

/// Submits `v` with the binary, follows it, and checks the result against the reference.
async fn healthy_job_finishes(url: &str, dir: &Path, v: &Value) {
    let path = write(dir, "healthy.json", v);
    let out = pathgrid(args(&["submit", &path, "--coordinator", url, "--watch", "--json", "--quiet"])).await;
    assert!(out.status.success(), "healthy job: {}", stderr(&out));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = price_job_sequential(&spec(v).validate().unwrap()).unwrap();
    assert_eq!(got["results"], serde_json::to_value(&want).unwrap(), "bit-identical to the reference");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_specs_are_refused_and_a_healthy_job_beside_them_finishes() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let node = Node::start(&coord.url, "n0", 1, None);
    let dir = tempfile::tempdir().unwrap();
    for (pointer, value, path) in [
        ("/instruments/0/payoff/strike", json!(1e160), "instruments[0].payoff.strike"),
        ("/instruments/0/model/spot", json!(1e200), "instruments[0].model.spot"),
    ] {
        let mut v = ls2001("poisoned");
        *v.pointer_mut(pointer).unwrap() = value;
        let file = write(dir.path(), "poisoned.json", &v);
        let out = pathgrid(args(&["submit", &file, "--coordinator", &coord.url])).await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(path), "{}", stderr(&out));
        // Past the CLI's own validation, the coordinator refuses it too.
        let mut client = Client::connect(&coord.url, None).await.unwrap();
        match client.submit(&serde_json::from_value(v).unwrap()).await {
            Err(Error::Status(s)) => {
                assert_eq!(s.code(), tonic::Code::InvalidArgument);
                assert!(s.message().contains(path), "{}", s.message());
            }
            other => panic!("accepted: {other:?}"),
        }
    }
    healthy_job_finishes(&coord.url, dir.path(), &ls2001("healthy")).await;
    node.stop().await;
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeliverable_job_is_refused_with_the_limit_and_blocks_nothing() {
    // A coordinator with a 64 KiB message limit, and a spec whose submit request just fits
    // it: the copy for the nodes adds the job id and would leave no headroom.
    let limit = 64 << 10;
    let config = CoordinatorConfig { max_message_bytes: limit, ..CoordinatorConfig::default() };
    let coord = Coordinator::start(config).await;
    let node = Node::start(&coord.url, "n0", 1, None);
    let dir = tempfile::tempdir().unwrap();
    let book = |n: usize| {
        let mut big = european("big");
        let one = big["instruments"][0].clone();
        big["instruments"] = (0..n)
            .map(|i| {
                let mut x = one.clone();
                x["id"] = json!(format!("p{i}"));
                x
            })
            .collect();
        big
    };
    let request_len = |v: &Value| {
        let req = v1::SubmitRequest { spec: Some(pathgrid_proto::convert::spec_to_proto(&spec(v))) };
        prost::Message::encoded_len(&req)
    };
    let n = (1..1000).rev().find(|&n| request_len(&book(n)) <= limit - 100).unwrap();
    let big = book(n);
    assert!(request_len(&big) > limit - 4096, "the request must fit, the definition not");
    let file = write(dir.path(), "big.json", &big);
    let out = pathgrid(args(&["submit", &file, "--coordinator", &coord.url])).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("too large") && err.contains(&(64 << 10).to_string()), "{err}");
    healthy_job_finishes(&coord.url, dir.path(), &ls2001("healthy")).await;
    node.stop().await;
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_of_the_documented_maximum_says_too_large_not_h2_error() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut book = european("book");
    book["paths"] = json!(4);
    book["batch_size"] = json!(4);
    let one = book["instruments"][0].clone();
    book["instruments"] = (0..100_000)
        .map(|i| {
            let mut x = one.clone();
            x["id"] = json!(format!("p{i}"));
            x
        })
        .collect();
    let file = write(dir.path(), "book.json", &book);
    let out = pathgrid(args(&["submit", &file, "--coordinator", &coord.url])).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("too large") && err.contains("4194304"), "{err}");
    assert!(!err.contains("h2 protocol"), "{err}");
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_statistics_fail_the_job_and_keep_the_node() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let mut client = Client::connect(&coord.url, None).await.unwrap();

    // A node that answers every pricing task with an infinite sum: what a node computes for
    // a job whose values overflow. The job fails; the node did nothing wrong.
    let mut workers = v1::workers_client::WorkersClient::connect(coord.url.clone()).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let hello = v1::Hello { node_id: "overflow".into(), slots: 1, version: "test".into(), token: String::new() };
    tx.send(v1::NodeMessage { msg: Some(Up::Hello(hello)) }).await.unwrap();
    let mut stream = workers.attach(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    let answering = Arc::new(tokio::sync::Notify::new());
    let answered = answering.clone();
    let fake = tokio::spawn(async move {
        while let Ok(Some(m)) = stream.message().await {
            if let Some(Down::Task(t)) = m.msg {
                let stats = v1::PricingStats { samples: 250, sum_y: f64::INFINITY, ..Default::default() };
                let r = v1::TaskResult {
                    task_id: t.task_id,
                    stats: Some(v1::task_result::Stats::Pricing(stats)),
                    compute_micros: 0,
                };
                if tx.send(v1::NodeMessage { msg: Some(Up::Result(r)) }).await.is_err() {
                    break;
                }
                answered.notify_one();
            }
        }
        stream
    });

    let poisoned = spec(&european("poisoned"));
    let id = client.submit(&poisoned).await.unwrap();
    let outcome = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.expect("the job ends");
    match outcome {
        Err(Error::JobFailed { status, message, .. }) => {
            assert_eq!(status.to_string(), "failed");
            assert!(message.contains("not finite") && message.contains("put-36"), "{message}");
        }
        other => panic!("expected a failed job, got {other:?}"),
    }
    answering.notified().await;
    let nodes = client.list_nodes().await.unwrap();
    assert!(nodes.iter().any(|n| n.name == "overflow"), "the node was dropped: {nodes:?}");

    // With the faulty node gone and a real one attached, a healthy job runs normally.
    fake.abort();
    let node = Node::start(&coord.url, "n0", 1, None);
    let dir = tempfile::tempdir().unwrap();
    healthy_job_finishes(&coord.url, dir.path(), &ls2001("healthy")).await;
    node.stop().await;
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_restored_from_a_checkpoint_show_their_batch_counts() {
    let store_dir = tempfile::tempdir().unwrap();
    let config = || CoordinatorConfig {
        store: Some(Arc::new(CheckpointStore::local(store_dir.path()))),
        ..CoordinatorConfig::default()
    };
    let coord = Coordinator::start(config()).await;
    let node = Node::start(&coord.url, "n0", 1, None);
    let mut client = Client::connect(&coord.url, None).await.unwrap();
    let id = client.submit(&spec(&ls2001("restored"))).await.unwrap();
    tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    let before = client.get(&id).await.unwrap();
    assert!(before.batches_total > 0);
    node.stop().await;
    coord.stop().await;

    let coord = Coordinator::start(config()).await;
    let out = pathgrid(args(&["jobs", "--coordinator", &coord.url, "--json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = jobs.as_array().unwrap().iter().find(|j| j["job_id"] == id.as_str()).expect("restored job listed");
    assert_eq!(job["phase"], "succeeded");
    assert_eq!(job["batches_total"], before.batches_total);
    assert_eq!(job["batches_done"], before.batches_total);
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_errors_are_printed_once() {
    let config = CoordinatorConfig { token: Some("s3cret".into()), ..CoordinatorConfig::default() };
    let coord = Coordinator::start(config).await;
    let out = pathgrid(args(&["cancel", "no-such-job", "--coordinator", &coord.url, "--token", "s3cret"])).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("unknown job no-such-job").count(), 1, "{err}");
    // A wrong token is refused, and said once.
    let out = pathgrid(args(&["jobs", "--coordinator", &coord.url, "--token", "wrong"])).await;
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("token").count(), 1, "{err}");
    coord.stop().await;
}

/// A `pathgrid` server process whose stderr (JSON log lines) is collected as it comes.
struct Server {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(args: &[&str], token: &str) -> Server {
        use std::io::BufRead;
        let mut child = std::process::Command::new(pathgrid_tests::pathgrid_bin())
            .args(args)
            .env("PATHGRID_TOKEN", token)
            .env("PATHGRID_LOG", "info,pathgrid_coordinator=debug,pathgrid_node=debug,pathgrid_cli=debug")
            .env("PATHGRID_LOG_FORMAT", "json")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server { child, lines, seen: Vec::new() }
    }

    /// Reads log lines until one satisfies `find`; returns what it extracted.
    fn wait_for<T>(&mut self, mut find: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("log line not seen: {:?}", self.seen));
            let found = find(&line);
            self.seen.push(line);
            if let Some(t) = found {
                return t;
            }
        }
    }

    /// Stops the process and returns everything it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.seen.extend(self.lines.iter());
        self.seen.join("\n")
    }
}

#[test]
fn the_token_never_appears_in_logs() {
    let token = "tok-9f8e7d6c5b4a3210";
    let mut coordinator = Server::start(&["coordinator", "--listen", "127.0.0.1:0"], token);
    // The service logs the address it actually bound.
    let url = coordinator.wait_for(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        let addr = v["fields"]["addr"].as_str()?;
        (v["fields"]["message"] == "coordinator listening" && !addr.ends_with(":0")).then(|| format!("http://{addr}"))
    });
    let mut node = Server::start(&["node", "--coordinator", &url, "--slots", "1", "--id", "logged"], token);
    node.wait_for(|line| line.contains("attached to the coordinator").then_some(()));
    let out = pathgrid_within(
        LIMIT,
        &["submit", "examples/ls2001-put.json", "--paths", "2000", "--coordinator", &url, "--token", token, "--watch"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for (who, logs) in [("node", node.stop()), ("coordinator", coordinator.stop())] {
        assert!(logs.contains("DEBUG") || logs.contains("INFO"), "{who} logged nothing");
        assert!(!logs.contains(token), "{who} logged the token:\n{logs}");
    }
    assert!(!stderr(&out).contains(token));
}
