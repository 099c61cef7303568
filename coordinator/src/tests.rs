//! Scheduler + job logic through the NodeLink seam: no sockets, virtual time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::checkpoint_store::CheckpointStore;
use crate::cluster::Cluster;
use crate::config::CoordinatorConfig;
use crate::virtual_node::{self, Behaviour, VirtualNodeOptions, VirtualNodeReport};
use pathgrid_pricing::{InstrumentResult, JobSpec, Phase, Problem, parse_spec, price_job_sequential};
use pathgrid_protocol::{JobPhase, Progress};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A one-leg job (a Bermudan put: its bound is the dual, no extra legs), so that task
/// counts below are those of one instrument.
fn spec(name: &str, paths: u64, batch: u64, steps: u32, seed: u64) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "{name}", "seed": {seed}, "paths": {paths}, "training_paths": {paths}, "batch_size": {batch},
        "instruments": [ {{ "id": "put",
          "model": {{ "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 }},
          "payoff": {{ "type": "put", "strike": 40.0 }},
          "exercise": {{ "style": "bermudan", "maturity": 1.0, "steps": {steps} }} }} ] }}"#
    ))
    .unwrap()
}

fn reference(spec: &JobSpec) -> Vec<InstrumentResult> {
    let job = spec.validate().unwrap();
    price_job_sequential(&job).unwrap()
}

/// Total batch results a job needs: R rounds of training batches plus pricing batches.
fn total_tasks(spec: &JobSpec) -> (u64, u64) {
    let job = spec.validate().unwrap();
    Problem::all(&job).iter().fold((0, 0), |(t, p), pr| {
        (t + pr.regression_dates() as u64 * pr.batches(Phase::Training), p + pr.batches(Phase::Pricing))
    })
}

fn config() -> CoordinatorConfig {
    CoordinatorConfig { heartbeat_timeout: Duration::from_secs(5), ..CoordinatorConfig::default() }
}

async fn nodes(
    cluster: &Cluster,
    prefix: &str,
    n: usize,
    opts: impl Fn(usize) -> VirtualNodeOptions,
) -> Vec<JoinHandle<VirtualNodeReport>> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(virtual_node::spawn(cluster, format!("{prefix}{i}"), opts(i)).await);
    }
    v
}

async fn wait_until(cluster: &Cluster, id: &str, mut f: impl FnMut(&Progress) -> bool) -> Progress {
    let mut rx = cluster.watch(id).await.unwrap();
    loop {
        let p = rx.borrow_and_update().clone();
        if p.is_terminal() || f(&p) {
            return p;
        }
        rx.changed().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn thousand_virtual_nodes_with_churn_accept_each_batch_once() {
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&config(), shutdown.clone()).await.unwrap();
    // 2000 training and 2000 pricing batches, 9 regression dates.
    let spec = spec("churn", 64_000, 32, 10, 3);
    let (train, price) = total_tasks(&spec);
    let mut handles = nodes(&cluster, "v", 1000, |i| VirtualNodeOptions {
        die_after: (i % 40 == 1).then_some(1 + (i as u64 % 7)),
        hang_after: (i % 50 == 3).then_some(1 + (i as u64 % 5)),
        ..VirtualNodeOptions::default()
    })
    .await;
    let id = cluster.submit(spec.clone()).await.unwrap();
    // Newcomers join mid-training; they hold no batches and must rebuild.
    let p = wait_until(&cluster, &id, |p| p.date.is_some_and(|d| d <= 5)).await;
    assert_eq!(p.phase, JobPhase::Training);
    handles.extend(nodes(&cluster, "late", 50, |_| VirtualNodeOptions::default()).await);
    let p = tokio::time::timeout(Duration::from_secs(3600), cluster.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(p.phase, JobPhase::Succeeded, "{:?}", p.error);
    let result = p.result.unwrap();
    assert_eq!(result.results, reference(&spec));
    // Every batch of every round accepted exactly once.
    assert_eq!(p.training_tasks, train);
    assert_eq!(p.pricing_tasks, price);
    assert_eq!(p.batches_done, p.batches_total);
    let stats = cluster.scheduler().stats().await;
    assert_eq!(stats.accepted, train + price);
    assert!(stats.nodes_lost >= 25 + 20, "{stats:?}");
    assert!(stats.requeued > 0, "{stats:?}");
    shutdown.cancel();
    cluster.stopped().await;
    let mut reports = Vec::new();
    for h in handles {
        reports.push(h.await.unwrap());
    }
    let rebuilds: u64 = reports.iter().map(|r| r.rebuilds).sum();
    assert!(rebuilds > 0, "lost batches must be rebuilt elsewhere");
    // Late answers of hung nodes were dropped, not accepted.
    assert!(stats.stale >= 1, "{stats:?}");
    assert_eq!(reports.iter().filter(|r| r.died).count() as u64, stats.nodes_lost);
}

#[tokio::test(start_paused = true)]
async fn a_node_that_overstates_its_sample_counts_is_dropped() {
    // Found by the proto_task_result fuzz target: batches claiming u64::MAX samples each
    // overflowed the merged count. Such statistics are malformed: the node is dropped and its
    // batches go to the others.
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&config(), shutdown.clone()).await.unwrap();
    let liar = virtual_node::spawn(
        &cluster,
        "liar".into(),
        VirtualNodeOptions { behaviour: Behaviour::Overcount, ..Default::default() },
    )
    .await;
    let honest = nodes(&cluster, "ok", 2, |_| VirtualNodeOptions::default()).await;
    let spec = spec("overcount", 4_000, 500, 5, 4);
    let id = cluster.submit(spec.clone()).await.unwrap();
    let p = tokio::time::timeout(Duration::from_secs(3600), cluster.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(p.phase, JobPhase::Succeeded, "{:?}", p.error);
    assert_eq!(p.result.unwrap().results, reference(&spec));
    let stats = cluster.scheduler().stats().await;
    assert_eq!(stats.nodes_lost, 1, "{stats:?}");
    shutdown.cancel();
    cluster.stopped().await;
    assert!(liar.await.unwrap().tasks >= 1);
    for h in honest {
        h.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn heartbeat_timeout_requeues_and_ignores_the_late_result() {
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&config(), shutdown.clone()).await.unwrap();
    let hung =
        virtual_node::spawn(&cluster, "hung".into(), VirtualNodeOptions { hang_after: Some(2), ..Default::default() })
            .await;
    let spec = spec("hb", 4_000, 500, 5, 9);
    let id = cluster.submit(spec.clone()).await.unwrap();
    let ok = virtual_node::spawn(&cluster, "ok".into(), VirtualNodeOptions::default()).await;
    let p = tokio::time::timeout(Duration::from_secs(600), cluster.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(p.result.unwrap().results, reference(&spec));
    let stats = cluster.scheduler().stats().await;
    assert_eq!(stats.nodes_lost, 1);
    assert_eq!(stats.stale, 1);
    assert!(hung.await.unwrap().died);
    let names: Vec<String> = cluster.list_nodes().await.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["ok"]);
    shutdown.cancel();
    cluster.stopped().await;
    assert!(!ok.await.unwrap().died);
}

#[tokio::test(start_paused = true)]
async fn several_jobs_share_the_nodes_and_multi_instrument_jobs_match() {
    let shutdown = CancellationToken::new();
    let cfg = CoordinatorConfig { max_active_instruments: 2, ..config() };
    let cluster = Cluster::start(&cfg, shutdown.clone()).await.unwrap();
    let handles =
        nodes(&cluster, "s", 7, |i| VirtualNodeOptions { slots: 1 + (i as u32 % 3), ..Default::default() }).await;
    let multi = parse_spec(
        r#"{ "name": "multi", "seed": 11, "paths": 6000, "batch_size": 512, "instruments": [
          { "id": "a", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
            "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "american", "maturity": 1, "steps": 8 } },
          { "id": "eu", "model": { "type": "gbm", "spot": 40, "vol": 0.3, "rate": 0.03 },
            "payoff": { "type": "call", "strike": 42 }, "exercise": { "style": "european", "maturity": 0.5 } },
          { "id": "basket", "model": { "type": "gbm", "spot": [100, 95, 105], "vol": [0.2, 0.25, 0.3], "rate": 0.04,
              "correlation": [[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]] },
            "payoff": { "type": "basket_put", "strike": 100 },
            "exercise": { "style": "bermudan", "maturity": 1, "dates": [0.25, 0.5, 0.75, 1.0] } },
          { "id": "b", "model": { "type": "gbm", "spot": 44, "vol": 0.4, "rate": 0.06 },
            "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "american", "maturity": 2, "steps": 6 } }
        ] }"#,
    )
    .unwrap();
    let specs = [spec("j1", 8_000, 512, 12, 1), multi, spec("j3", 8_000, 256, 6, 3)];
    let mut ids = Vec::new();
    for s in &specs {
        ids.push(cluster.submit(s.clone()).await.unwrap());
    }
    for (s, id) in specs.iter().zip(&ids) {
        // Progress counts the options finished: never backwards, all of them at the end.
        let mut seen: Vec<(u64, u64)> = Vec::new();
        let wait = cluster.wait(id, |p| seen.push((p.instruments_done, p.instruments_total)));
        let p = tokio::time::timeout(Duration::from_secs(600), wait).await.unwrap().unwrap();
        assert_eq!(p.phase, JobPhase::Succeeded, "{:?}", p.error);
        let options = s.instruments.len() as u64;
        assert_eq!((p.instruments_done, p.instruments_total), (options, options), "{}", s.name);
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0 && w[1].1 == options), "{}: {seen:?}", s.name);
        assert_eq!(p.result.unwrap().results, reference(s), "{}", s.name);
    }
    assert_eq!(cluster.list_jobs().await.unwrap().len(), 3);
    shutdown.cancel();
    cluster.stopped().await;
    for h in handles {
        h.await.unwrap();
    }
}

#[tokio::test]
async fn checkpoint_resume_skips_training() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CheckpointStore::local(dir.path()));
    let cfg = CoordinatorConfig { store: Some(store), ..config() };
    let spec = spec("resume", 8_000, 500, 10, 5);

    // First coordinator: train, and stop as soon as pricing starts (the node leaves first,
    // so no pricing batch can finish here).
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&cfg, shutdown.clone()).await.unwrap();
    let id = cluster.submit(spec.clone()).await.unwrap();
    let opts = VirtualNodeOptions { die_after: Some(total_tasks(&spec).0), ..Default::default() };
    let node = virtual_node::spawn(&cluster, "first".into(), opts).await;
    assert!(node.await.unwrap().died);
    let p = wait_until(&cluster, &id, |p| p.phase == JobPhase::Pricing).await;
    assert_eq!(p.phase, JobPhase::Pricing);
    assert_eq!(p.pricing_tasks, 0);
    shutdown.cancel();
    cluster.stopped().await;

    // Second coordinator on the same store: resumes in pricing.
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&cfg, shutdown.clone()).await.unwrap();
    let node = virtual_node::spawn(&cluster, "second".into(), VirtualNodeOptions::default()).await;
    let p = tokio::time::timeout(Duration::from_secs(60), cluster.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(p.phase, JobPhase::Succeeded, "{:?}", p.error);
    assert_eq!(p.training_tasks, 0, "training was redone");
    assert_eq!(p.result.unwrap().results, reference(&spec));
    shutdown.cancel();
    cluster.stopped().await;
    node.await.unwrap();

    // A third start finds the job finished and still reports it.
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&cfg, shutdown.clone()).await.unwrap();
    let p = cluster.get(&id).await.unwrap();
    assert_eq!(p.phase, JobPhase::Succeeded);
    assert_eq!(p.result.unwrap().results, reference(&spec));
    shutdown.cancel();
    cluster.stopped().await;
}

/// Two coordinators start at once on one store holding an unfinished job: exactly one takes
/// its lease and runs it (to the reference result); the other leaves it alone, and cannot
/// take it while the first holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinators_on_one_store_run_a_job_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec("shared", 8_000, 500, 10, 11);

    // A first coordinator trains, then stops cleanly (checkpoint written, lease released).
    let first = CoordinatorConfig { store: Some(Arc::new(CheckpointStore::local(dir.path()))), ..config() };
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&first, shutdown.clone()).await.unwrap();
    let id = cluster.submit(spec.clone()).await.unwrap();
    let opts = VirtualNodeOptions { die_after: Some(total_tasks(&spec).0), ..Default::default() };
    let node = virtual_node::spawn(&cluster, "first".into(), opts).await;
    assert!(node.await.unwrap().died);
    wait_until(&cluster, &id, |p| p.phase == JobPhase::Pricing).await;
    shutdown.cancel();
    cluster.stopped().await;

    // Two coordinators with distinct identities race for it.
    let cfg = || CoordinatorConfig { store: Some(Arc::new(CheckpointStore::local(dir.path()))), ..config() };
    let (cfg_a, cfg_b) = (cfg(), cfg());
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let (a, b) = tokio::join!(Cluster::start(&cfg_a, stop_a.clone()), Cluster::start(&cfg_b, stop_b.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    let (a_jobs, b_jobs) = (a.list_jobs().await.unwrap(), b.list_jobs().await.unwrap());
    assert_eq!(a_jobs.len() + b_jobs.len(), 1, "the job was resumed {} times", a_jobs.len() + b_jobs.len());
    let (owner, other, other_stop) = if a_jobs.is_empty() { (b, a, stop_a) } else { (a, b, stop_b) };

    // While the owner holds it, a third coordinator still cannot take it.
    let third = Cluster::start(&cfg(), CancellationToken::new()).await.unwrap();
    assert!(third.list_jobs().await.unwrap().is_empty(), "a live lease was taken over");
    third.shutdown_token().cancel();
    third.stopped().await;

    let node = virtual_node::spawn(&owner, "second".into(), VirtualNodeOptions::default()).await;
    let p = tokio::time::timeout(Duration::from_secs(60), owner.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(p.phase, JobPhase::Succeeded, "{:?}", p.error);
    assert_eq!(p.training_tasks, 0, "training was redone");
    assert_eq!(p.result.unwrap().results, reference(&spec));
    assert!(other.list_jobs().await.unwrap().is_empty());
    owner.shutdown_token().cancel();
    owner.stopped().await;
    other_stop.cancel();
    other.stopped().await;
    node.await.unwrap();

    // The finished checkpoint records which coordinators worked on the job.
    let cp = CheckpointStore::local(dir.path()).load(&CheckpointStore::object(&id)).await.unwrap();
    assert_eq!(cp.runs.len(), 2, "{:?}", cp.runs);
    assert_eq!(cp.runs[0].training_tasks, total_tasks(&spec).0);
    assert_eq!((cp.runs[1].training_tasks, cp.runs[1].pricing_tasks), (0, total_tasks(&spec).1));
}

/// A coordinator whose lease is taken over (here: by a later incarnation of itself) stops
/// the job at its next renewal and writes nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_that_loses_its_lease_stops_the_job() {
    use crate::lease::Owner;
    use pathgrid_store::{AnyStore, LocalStore};
    let dir = tempfile::tempdir().unwrap();
    let store = |incarnation| {
        let s = AnyStore::Local(LocalStore::private(dir.path()));
        Arc::new(CheckpointStore::new(s, Owner::new("host/1", incarnation)).with_lease_ttl(Duration::from_millis(300)))
    };
    let spec = spec("lost", 8_000, 500, 10, 12);
    let shutdown = CancellationToken::new();
    let cluster =
        Cluster::start(&CoordinatorConfig { store: Some(store(1)), ..config() }, shutdown.clone()).await.unwrap();
    // No nodes: the job waits in training with its lease.
    let id = cluster.submit(spec.clone()).await.unwrap();
    wait_until(&cluster, &id, |p| p.phase == JobPhase::Training).await;
    let before = std::fs::read(dir.path().join(CheckpointStore::object(&id))).unwrap();

    let stop_next = CancellationToken::new();
    let next =
        Cluster::start(&CoordinatorConfig { store: Some(store(2)), ..config() }, stop_next.clone()).await.unwrap();
    assert_eq!(next.list_jobs().await.unwrap().len(), 1, "the later incarnation did not take the job");
    let p = tokio::time::timeout(Duration::from_secs(30), cluster.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(p.phase, JobPhase::Failed);
    assert!(p.error.as_deref().unwrap_or_default().contains("lease lost"), "{:?}", p.error);
    shutdown.cancel();
    cluster.stopped().await;
    // The old coordinator's shutdown wrote nothing over the new owner's checkpoint.
    let after = CheckpointStore::local(dir.path()).load(&CheckpointStore::object(&id)).await.unwrap();
    assert_eq!(after.runs.last().unwrap().owner, "host/1#2");
    assert_ne!(std::fs::read(dir.path().join(CheckpointStore::object(&id))).unwrap(), before);
    stop_next.cancel();
    next.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn stub_nodes_measure_round_trip_shape() {
    // Stub nodes answer with zero statistics: solve yields no coefficients, the job still
    // runs every round and finishes (pricing with samples = 1 per batch).
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&config(), shutdown.clone()).await.unwrap();
    let _h =
        nodes(&cluster, "stub", 10, |_| VirtualNodeOptions { behaviour: Behaviour::Stub, ..Default::default() }).await;
    let spec = spec("stub", 10_000, 100, 5, 1);
    let id = cluster.submit(spec.clone()).await.unwrap();
    let p = tokio::time::timeout(Duration::from_secs(60), cluster.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(p.phase, JobPhase::Succeeded, "{:?}", p.error);
    assert_eq!(p.training_tasks, total_tasks(&spec).0);
    shutdown.cancel();
    cluster.stopped().await;
}
