//! A coordinator stopped right after training and restarted on its checkpoint directory
//! (same port): the node reattaches by itself, the job resumes in pricing without
//! retraining, and the result is bit-identical to the sequential reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_coordinator::{CheckpointStore, Client, CoordinatorConfig, JobPhase};
use pathgrid_node::NodeConfig;
use pathgrid_pricing::{parse_spec, price_job_sequential};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_checkpoint_resumes_pricing_without_retraining() {
    let spec = parse_spec(
        r#"{ "name": "restart", "seed": 99, "paths": 400000, "training_paths": 20000, "batch_size": 1024,
        "instruments": [ { "id": "put-36",
          "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
          "payoff": { "type": "put", "strike": 40.0 },
          "exercise": { "style": "american", "maturity": 1.0, "steps": 50 } } ] }"#,
    )
    .unwrap();
    let job = spec.validate().unwrap();
    let expected = price_job_sequential(&job).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = || CoordinatorConfig {
        store: Some(Arc::new(CheckpointStore::local(dir.path()))),
        ..CoordinatorConfig::default()
    };

    // Coordinator A and one node that outlives it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let stop_a = CancellationToken::new();
    let a = tokio::spawn(pathgrid_coordinator::run(listener, config(), stop_a.clone()));
    let mut nc = NodeConfig::new(url.clone());
    nc.node_id = "survivor".into();
    nc.slots = 1;
    nc.backoff_initial = Duration::from_millis(20);
    nc.backoff_max = Duration::from_millis(200);
    let node_stop = CancellationToken::new();
    let node = tokio::spawn(pathgrid_node::run(nc, node_stop.clone()));

    let mut client = Client::connect(&url, None).await.unwrap();
    let id = client.submit(&spec).await.unwrap();
    {
        let mut events = std::pin::pin!(client.watch(&id).await.unwrap());
        loop {
            let p = tokio::time::timeout(LIMIT, events.next()).await.unwrap().expect("stream ended").unwrap();
            assert!(!p.is_terminal(), "job finished before the restart");
            if p.phase == JobPhase::Pricing {
                break;
            }
        }
    }
    // Stop A as soon as training is over.
    stop_a.cancel();
    tokio::time::timeout(LIMIT, a).await.unwrap().unwrap().unwrap();
    drop(client);

    // Coordinator B on the same directory and port.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let stop_b = CancellationToken::new();
    let b = tokio::spawn(pathgrid_coordinator::run(listener, config(), stop_b.clone()));
    let mut client = Client::connect(&url, None).await.unwrap();
    let mut last = None;
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |p| last = Some(p.clone()))).await.unwrap().unwrap();
    let last = last.unwrap();
    assert_eq!(result.results, expected);
    assert_eq!(last.training_tasks, 0, "training was redone after the restart");
    assert!(last.pricing_tasks > 0, "the restarted coordinator priced the remaining batches");
    let nodes = client.list_nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].name, "survivor");

    node_stop.cancel();
    tokio::time::timeout(LIMIT, node).await.unwrap().unwrap().unwrap();
    stop_b.cancel();
    tokio::time::timeout(LIMIT, b).await.unwrap().unwrap().unwrap();
}

/// `pathgrid submit --watch` and `pathgrid watch` ride out a coordinator killed (SIGKILL) and
/// restarted on its `--store` and port mid-job: they reconnect, follow the resumed job (same
/// id) to its end and print the uninterrupted run's result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_watch_follows_a_killed_and_restarted_coordinator() {
    use pathgrid_tests::Proc;
    let spec_text = r#"{ "name": "follow", "seed": 11, "paths": 2000000, "training_paths": 20000, "batch_size": 4096,
        "instruments": [ { "id": "put-36",
          "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
          "payoff": { "type": "put", "strike": 40.0 },
          "exercise": { "style": "american", "maturity": 1.0, "steps": 50 } } ] }"#;
    let expected = price_job_sequential(&parse_spec(spec_text).unwrap().validate().unwrap()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("follow.json");
    std::fs::write(&spec_path, spec_text).unwrap();
    let store = dir.path().join("store");
    let (store, spec_path) = (store.to_str().unwrap(), spec_path.to_str().unwrap());
    let listen = format!("127.0.0.1:{}", pathgrid_tests::free_port());
    let url = format!("http://{listen}");
    let coordinator =
        |name: &str| Proc::pathgrid(dir.path(), name, &["coordinator", "--listen", &listen, "--store", store]);

    let first = coordinator("coordinator-1");
    let _node = Proc::pathgrid(dir.path(), "node", &["node", "--coordinator", &url, "--slots", "1", "--id", "n1"]);
    let client = async {
        loop {
            if let Ok(c) = Client::connect(&url, None).await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut client = tokio::time::timeout(LIMIT, client).await.expect("the coordinator never listened");
    let submit = Proc::pathgrid(
        dir.path(),
        "submit",
        &["submit", spec_path, "--coordinator", &url, "--watch", "--json", "--reconnect-secs", "120"],
    );
    let id = tokio::time::timeout(LIMIT, async {
        loop {
            if let Some(p) = client.list_jobs().await.unwrap().pop() {
                return p.job_id;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the job was never submitted");
    let watch = Proc::pathgrid(dir.path(), "watch", &["watch", &id, "--coordinator", &url, "--json"]);

    // Kill the coordinator once pricing is under way.
    {
        let mut events = std::pin::pin!(client.watch(&id).await.unwrap());
        loop {
            let p = tokio::time::timeout(LIMIT, events.next()).await.unwrap().expect("stream ended").unwrap();
            assert!(!p.is_terminal(), "job finished before the kill");
            if p.phase == JobPhase::Pricing && p.batches_done > 0 {
                break;
            }
        }
    }
    first.kill();
    let _second = coordinator("coordinator-2");

    for (proc, name) in [(submit, "submit"), (watch, "watch")] {
        let (code, stdout, stderr) = tokio::task::spawn_blocking(move || proc.finish(LIMIT)).await.unwrap();
        assert_eq!(code, Some(0), "{name} failed:\n{stderr}");
        assert!(stderr.contains("reconnecting"), "{name} did not say it was reconnecting:\n{stderr}");
        let result: pathgrid_protocol::JobResult =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{name} printed no result ({e}):\n{stdout}"));
        assert_eq!(result.job_id, id, "{name}");
        assert_eq!(result.results, expected, "{name}: the result differs from the uninterrupted run");
    }
    // The restarted coordinator did the rest of the job.
    let mut client = Client::connect(&url, None).await.unwrap();
    let last = client.get(&id).await.unwrap();
    assert_eq!(last.phase, JobPhase::Succeeded);
    assert!(last.pricing_tasks > 0, "the restarted coordinator priced nothing: {last:?}");
}
