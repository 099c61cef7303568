//! Faults beyond a killed node, over real gRPC on 127.0.0.1: a node process frozen with
//! SIGSTOP past the heartbeat timeout, 50 concurrent jobs from 5 clients, and cancellation
//! mid-training and mid-pricing with the nodes' memory returning. Results are compared bit
//! for bit with the sequential reference. Tests wait on progress and node reports, bounded by
//! generous timeouts; nothing asserts on wall-clock time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_coordinator::{Client, CoordinatorConfig, JobPhase, NodeInfo, Progress};
use pathgrid_pricing::{JobSpec, parse_spec, price_job_sequential};
use pathgrid_tests::Proc;
use pathgrid_tests::cluster::{Coordinator, LIMIT, Node};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;

fn put_spec(name: &str, seed: u64, paths: u64, training: u64, batch: u64, steps: u64, strike: f64) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "{name}", "seed": {seed}, "paths": {paths}, "training_paths": {training}, "batch_size": {batch},
        "instruments": [ {{ "id": "put",
          "model": {{ "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 }},
          "payoff": {{ "type": "put", "strike": {strike} }},
          "exercise": {{ "style": "american", "maturity": 1.0, "steps": {steps} }} }} ] }}"#
    ))
    .unwrap()
}

/// Heartbeats every 100 ms, a node silent for 1 s is lost.
fn quick_heartbeats() -> CoordinatorConfig {
    CoordinatorConfig {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_secs(1),
        ..CoordinatorConfig::default()
    }
}

/// Polls `ListNodes` until `ok` holds; returns that list.
async fn nodes_until(client: &mut Client, what: &str, ok: impl Fn(&[NodeInfo]) -> bool) -> Vec<NodeInfo> {
    let polled = tokio::time::timeout(LIMIT, async {
        loop {
            let nodes = client.list_nodes().await.unwrap();
            if ok(&nodes) {
                return nodes;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    polled.unwrap_or_else(|_| panic!("timed out waiting for: {what}"))
}

/// Follows a job until `until` holds or it ends; returns that event.
async fn follow(client: &mut Client, id: &str, until: impl Fn(&Progress) -> bool) -> Progress {
    let mut events = std::pin::pin!(client.watch(id).await.unwrap());
    loop {
        let p = tokio::time::timeout(LIMIT, events.next()).await.expect("watch timed out").expect("stream ended");
        let p = p.unwrap();
        if p.is_terminal() || until(&p) {
            return p;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_frozen_past_the_heartbeat_timeout_is_lost_and_requeued() {
    let coord = Coordinator::start(quick_heartbeats()).await;
    let logs = tempfile::tempdir().unwrap();
    let start = |name: &str| {
        Proc::pathgrid(logs.path(), name, &["node", "--coordinator", &coord.url, "--slots", "1", "--id", name])
    };
    let frozen = start("frozen");
    let steady = start("steady");
    let mut client = coord.client(None).await;
    nodes_until(&mut client, "both nodes attached", |n| n.len() == 2).await;

    let spec = put_spec("freeze", 5, 200_000, 100_000, 2048, 50, 40.0);
    let expected = price_job_sequential(&spec.validate().unwrap()).unwrap();
    let id = client.submit(&spec).await.unwrap();
    let p = follow(&mut client, &id, |p| p.phase == JobPhase::Training && p.batches_done > 0).await;
    assert!(!p.is_terminal(), "the job ended before the freeze");
    // Both nodes hold tasks (two per slot are kept in flight); freeze one of them.
    frozen.signal("STOP");
    nodes_until(&mut client, "the frozen node declared lost", |n| n.iter().all(|n| n.name != "frozen")).await;
    let stats = coord.cluster().scheduler().stats().await;
    assert!(stats.nodes_lost >= 1, "{stats:?}");
    assert!(stats.requeued >= 1, "the frozen node's batches were not requeued: {stats:?}");

    // Thawed, the node finishes what it was computing: those results belong to a lost
    // session and are dropped; it attaches again as a new session and gets new work.
    frozen.signal("CONT");
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(result.results, expected, "a late result changed the answer");
    nodes_until(&mut client, "the thawed node attached again", |n| n.iter().any(|n| n.name == "frozen")).await;
    eprintln!("after the freeze: {:?}", coord.cluster().scheduler().stats().await);
    frozen.kill();
    steady.kill();
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_jobs_from_five_clients_each_get_their_own_result() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let nodes: Vec<_> = (0..2).map(|i| Node::start(&coord.url, &format!("c{i}"), 1, None)).collect();
    let specs: Vec<JobSpec> =
        (0..50).map(|i| put_spec(&format!("job-{i}"), 1000 + i, 2_000, 2_000, 500, 8, 34.0 + (i % 7) as f64)).collect();
    let references = tokio::task::spawn_blocking({
        let specs = specs.clone();
        move || specs.iter().map(|s| price_job_sequential(&s.validate().unwrap()).unwrap()).collect::<Vec<_>>()
    });

    let mut clients = JoinSet::new();
    for chunk in specs.chunks(10) {
        let (url, chunk) = (coord.url.clone(), chunk.to_vec());
        clients.spawn(async move {
            let client = Client::connect(&url, None).await.unwrap();
            let mut jobs = JoinSet::new();
            for spec in chunk {
                let mut client = client.clone();
                jobs.spawn(async move {
                    let id = client.submit(&spec).await.unwrap();
                    let result = client.wait(&id, |_| {}).await.unwrap();
                    (spec.name, id, result)
                });
            }
            jobs.join_all().await
        });
    }
    let finished: Vec<_> = tokio::time::timeout(LIMIT, clients.join_all())
        .await
        .expect("jobs did not finish")
        .into_iter()
        .flatten()
        .collect();
    let references = references.await.unwrap();
    assert_eq!(finished.len(), 50);
    let mut ids: Vec<&str> = finished.iter().map(|(_, id, _)| id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "job ids are not unique");
    for (name, id, result) in &finished {
        let i: usize = name.trim_start_matches("job-").parse().unwrap();
        assert_eq!(&result.job_id, id);
        assert_eq!(&result.name, name);
        assert_eq!(result.results, references[i], "{name} got another job's numbers or wrong ones");
    }
    for n in nodes {
        n.stop().await;
    }
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_training_and_mid_pricing_frees_the_nodes_memory() {
    let coord = Coordinator::start(quick_heartbeats()).await;
    let nodes: Vec<_> = (0..2).map(|i| Node::start(&coord.url, &format!("m{i}"), 1, None)).collect();
    let mut client = coord.client(None).await;
    nodes_until(&mut client, "both nodes attached", |n| n.len() == 2).await;
    let idle = |n: &[NodeInfo]| n.len() == 2 && n.iter().all(|n| n.load.jobs == 0 && n.load.cached_bytes == 0);

    // Mid-training: the nodes keep training batches between rounds.
    let training = put_spec("cancel-training", 3, 4_000_000, 4_000_000, 1024, 50, 40.0);
    let id = client.submit(&training).await.unwrap();
    let p = follow(&mut client, &id, |p| p.phase == JobPhase::Training && p.batches_done > 0).await;
    assert_eq!(p.phase, JobPhase::Training);
    let busy = nodes_until(&mut client, "training batches kept", |n| n.iter().any(|n| n.load.cached_bytes > 0)).await;
    eprintln!("mid-training: {:?}", busy.iter().map(|n| n.load).collect::<Vec<_>>());
    assert!(client.cancel(&id).await.unwrap());
    nodes_until(&mut client, "memory returned after cancelling training", idle).await;

    // Mid-pricing: the nodes hold the job and its exercise policy.
    let pricing = put_spec("cancel-pricing", 4, 8_000_000, 20_000, 1024, 50, 40.0);
    let id = client.submit(&pricing).await.unwrap();
    let p = follow(&mut client, &id, |p| p.phase == JobPhase::Pricing && p.batches_done > 0).await;
    assert_eq!(p.phase, JobPhase::Pricing);
    nodes_until(&mut client, "pricing state held", |n| n.iter().any(|n| n.load.jobs > 0)).await;
    assert!(client.cancel(&id).await.unwrap());
    nodes_until(&mut client, "memory returned after cancelling pricing", idle).await;
    assert_eq!(client.get(&id).await.unwrap().phase, JobPhase::Cancelled);

    for n in nodes {
        n.stop().await;
    }
    coord.stop().await;
}
