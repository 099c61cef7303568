//! Runs one kernel of the LS2001 put (Bermudan, 50 dates, one batch of 8192 paths) once,
//! for profilers: `valgrind --tool=callgrind` counts its instructions repeatably, `perf`
//! samples it. `cargo run --release -p pathgrid-pricing --example kernel_profile -- PART`
//! with PART one of `setup` (the baseline to subtract), `simulation`, `training`,
//! `pricing`; `PATHGRID_SIMD` picks the level.

use pathgrid_pricing::{Coefficients, ExercisePolicy, Problem, RegressionStats, TrainingBatch, parse_job, price_batch};
use std::hint::black_box;

const LS2001: &str = r#"{"name":"profile","seed":1,"paths":16384,"training_paths":8192,"batch_size":8192,
  "instruments":[{"id":"put","model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
  "payoff":{"type":"put","strike":40},"exercise":{"style":"bermudan","maturity":1,"steps":50}}]}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let part = std::env::args().nth(1).unwrap_or_else(|| "setup".into());
    let job = parse_job(LS2001)?;
    let p = Problem::all(&job).remove(0);
    let steps = 8192 * p.instrument.path_steps();
    match part.as_str() {
        "setup" => {}
        "simulation" => {
            black_box(TrainingBatch::simulate(&p, 0)?);
        }
        "training" | "pricing" => {
            let mut tb = TrainingBatch::simulate(&p, 0)?;
            let mut coefficients: Vec<Coefficients> = vec![None; p.regression_dates()];
            for k in (0..p.regression_dates()).rev() {
                let mut merged = RegressionStats::new(p.basis_len());
                merged.merge(&tb.regression_stats(&p, k)?)?;
                coefficients[k] = merged.solve();
                tb.apply_exercise(&p, k, coefficients[k].as_deref())?;
            }
            if part == "pricing" {
                // Batch 1: batch 0 also carries the dual bound's paths.
                black_box(price_batch(&p, 1, &ExercisePolicy { coefficients })?);
            }
        }
        other => return Err(format!("unknown part {other:?}: setup, simulation, training or pricing").into()),
    }
    eprintln!("{part}: {steps} path-steps of each phase");
    Ok(())
}
