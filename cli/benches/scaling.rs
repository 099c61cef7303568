//! Scaling of the embedded cluster (real gRPC over loopback): 1 node vs 2 nodes, one slot
//! each, on a large LS2001 put, against the sequential reference. Printed, not asserted.
//!
//! `cargo bench -p pathgrid-cli --bench scaling [-- quick]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_cli::embedded::{EmbeddedOptions, run_embedded_with};
use pathgrid_pricing::{JobSpec, Phase, Problem, parse_spec};
use std::time::Instant;

fn put(paths: u64, training: u64, batch: u64, steps: u32) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "bench", "seed": 1, "paths": {paths}, "training_paths": {training}, "batch_size": {batch},
        "instruments": [ {{ "id": "put", "model": {{ "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 }},
          "payoff": {{ "type": "put", "strike": 40.0 }},
          "exercise": {{ "style": "american", "maturity": 1.0, "steps": {steps} }} }} ] }}"#
    ))
    .unwrap()
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("\n== embedded cluster (real gRPC), 1 vs 2 nodes, one slot each ==");
    let big = if quick { put(200_000, 100_000, 8192, 50) } else { put(2_000_000, 1_000_000, 8192, 50) };
    let steps = big.validate().unwrap().path_steps();
    let seq = Instant::now();
    let reference = pathgrid_pricing::price_job_sequential(&big.validate().unwrap()).unwrap().remove(0);
    let t = seq.elapsed().as_secs_f64();
    println!("sequential reference (no cluster): {t:.3} s, {:.0} M path-steps/s", steps as f64 / t / 1e6);
    let mut secs = Vec::new();
    for nodes in [1, 2] {
        let start = Instant::now();
        let r = rt.block_on(run_embedded_with(big.clone(), EmbeddedOptions::new(nodes), |_| {})).unwrap();
        let t = start.elapsed().as_secs_f64();
        secs.push(t);
        assert_eq!(r.results[0], reference, "bit-identical to the sequential reference");
        println!(
            "{nodes} node(s): {t:.3} s, {:.0} M path-steps/s, price {:.5} ± {:.5}",
            steps as f64 / t / 1e6,
            r.results[0].price,
            r.results[0].std_error
        );
    }
    println!("speedup 2 vs 1: {:.2}x", secs[0] / secs[1]);
    let p = Problem::all(&big.validate().unwrap()).remove(0);
    println!("({} training + {} pricing batches)", p.batches(Phase::Training), p.batches(Phase::Pricing));
}
