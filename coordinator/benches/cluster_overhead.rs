//! Measurements of the cluster (printed, not asserted):
//! 1. coordinator overhead per backward-induction round with 1000 virtual nodes that
//!    answer instantly (stub statistics), through the NodeLink seam;
//! 2. bytes on the wire per round per batch (task down + result up), for two basis sizes
//!    and two batch sizes — O(basis²), independent of paths per batch;
//!
//! The 1-node vs 2-node scaling bench is `cargo bench -p pathgrid-cli --bench scaling`.
//!
//! `cargo bench -p pathgrid-coordinator --bench cluster_overhead [-- quick]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_coordinator::protocol::{NodeTask, NodeTaskKind};
use pathgrid_coordinator::virtual_node::{self, Behaviour, VirtualNodeOptions};
use pathgrid_coordinator::{Cluster, CoordinatorConfig};
use pathgrid_pricing::{JobSpec, Problem, TrainingBatch, parse_spec};
use pathgrid_proto::{convert, v1};
use prost::Message;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn put(paths: u64, training: u64, batch: u64, steps: u32) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "bench", "seed": 1, "paths": {paths}, "training_paths": {training}, "batch_size": {batch},
        "instruments": [ {{ "id": "put", "model": {{ "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 }},
          "payoff": {{ "type": "put", "strike": 40.0 }},
          "exercise": {{ "style": "american", "maturity": 1.0, "steps": {steps} }} }} ] }}"#
    ))
    .unwrap()
}

fn max_call(paths: u64, batch: u64) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "bench5", "seed": 1, "paths": {paths}, "training_paths": {paths}, "batch_size": {batch},
        "instruments": [ {{ "id": "mc", "model": {{ "type": "gbm", "spot": [100,100,100,100,100], "vol": 0.2, "rate": 0.05, "dividend": 0.1 }},
          "payoff": {{ "type": "max_call", "strike": 100.0 }},
          "exercise": {{ "style": "bermudan", "maturity": 3.0, "steps": 9 }} }} ] }}"#
    ))
    .unwrap()
}

async fn round_overhead(nodes: usize, spec: JobSpec) -> (f64, usize) {
    let problem = Problem::all(&spec.validate().unwrap()).remove(0);
    let rounds = problem.regression_dates() + 1;
    let shutdown = CancellationToken::new();
    let config = CoordinatorConfig { heartbeat_timeout: Duration::from_secs(600), ..CoordinatorConfig::default() };
    let cluster = Cluster::start(&config, shutdown.clone()).await.unwrap();
    for i in 0..nodes {
        let opts =
            VirtualNodeOptions { behaviour: Behaviour::Stub, heartbeat: Duration::from_secs(60), ..Default::default() };
        drop(virtual_node::spawn(&cluster, format!("v{i}"), opts).await);
    }
    let start = Instant::now();
    let id = cluster.submit(spec).await.unwrap();
    let p = cluster.wait(&id, |_| {}).await.unwrap();
    assert!(p.is_terminal());
    let per_round = start.elapsed().as_secs_f64() / rounds as f64;
    shutdown.cancel();
    cluster.stopped().await;
    (per_round, rounds)
}

fn bytes_per_round(spec: &JobSpec) -> (usize, usize, usize) {
    let problem = Problem::all(&spec.validate().unwrap()).remove(0);
    let r = problem.regression_dates();
    let mut tb = TrainingBatch::simulate(&problem, 0).unwrap();
    let stats = tb.regression_stats(&problem, r - 1).unwrap();
    let beta = vec![0.123_456_789; problem.basis_len()];
    let task = NodeTask {
        task_id: 123_456,
        job_id: "bench-18f3a2b4c5d-1".into(),
        instrument: 0,
        batch: 17,
        kind: NodeTaskKind::Train { date: r - 2, coefficients: vec![(r - 1, Some(beta))] },
    };
    let down = convert::task(&task);
    let up = v1::NodeMessage {
        msg: Some(v1::node_message::Msg::Result(v1::TaskResult {
            task_id: 123_456,
            stats: Some(v1::task_result::Stats::Regression(convert::regression_to_proto(&stats))),
            compute_micros: 1234,
        })),
    };
    (problem.basis_len(), down.encoded_len(), up.encoded_len())
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    println!("== coordinator overhead per round, 1000 virtual stub nodes (1 batch each) ==");
    for (label, spec) in [
        ("put, laguerre 3 + European term (basis 5), 50 dates", put(1000 * 64, 1000 * 64, 64, 51)),
        ("5-asset max-call, basis 22, 8 dates", max_call(1000 * 64, 64)),
    ] {
        let mut samples: Vec<f64> =
            (0..if quick { 1 } else { 5 }).map(|_| rt.block_on(round_overhead(1000, spec.clone())).0).collect();
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        println!(
            "{label}: median {:.2} ms per round (min {:.2} ms) over {} runs",
            median * 1e3,
            samples[0] * 1e3,
            samples.len()
        );
    }

    println!("\n== bytes on the wire per training round per batch (task down + stats up) ==");
    for (label, spec) in [
        ("put laguerre/3, batch 1024", put(2048, 2048, 1024, 50)),
        ("put laguerre/3, batch 65536", put(131_072, 131_072, 65_536, 50)),
        ("5-asset poly/2, batch 1024", max_call(2048, 1024)),
        ("5-asset poly/2, batch 65536", max_call(131_072, 65_536)),
    ] {
        let (basis, down, up) = bytes_per_round(&spec);
        println!("{label}: basis {basis}: down {down} B + up {up} B = {} B", down + up);
    }
}
