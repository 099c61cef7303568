//! Throughput of the Longstaff–Schwartz kernels on the LS2001 put (S=36, K=40, σ=0.2,
//! T=1, r=0.06, 50 dates), single thread: training + pricing passes, counted in
//! path-steps (paths × dates).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pathgrid_pricing::{Phase, Problem, TrainingBatch, parse_job, price_batch, price_instrument_sequential};
use std::hint::black_box;

const LS2001: &str = r#"{"name":"bench","seed":1,"paths":65536,"training_paths":32768,"batch_size":8192,
  "instruments":[{"id":"put","model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
  "payoff":{"type":"put","strike":40},"exercise":{"style":"american","maturity":1,"steps":50}}]}"#;

fn problem() -> Problem {
    match parse_job(LS2001) {
        Ok(job) => Problem::all(&job).remove(0),
        Err(e) => panic!("bench spec invalid: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let p = problem();
    let steps = |paths: u64| paths * p.dates() as u64;
    let mut g = c.benchmark_group("ls2001_put");
    g.sample_size(10);

    g.throughput(Throughput::Elements(steps(p.settings.paths + p.settings.training_paths)));
    g.bench_function("full_job_one_core", |b| b.iter(|| black_box(price_instrument_sequential(&p).ok())));

    g.throughput(Throughput::Elements(steps(p.settings.batch_size)));
    g.bench_function("simulate_training_batch", |b| b.iter(|| black_box(TrainingBatch::simulate(&p, 0).ok())));

    let policy = match training_policy(&p) {
        Some(policy) => policy,
        None => return,
    };
    g.bench_function("price_batch", |b| b.iter(|| black_box(price_batch(&p, 0, &policy).ok())));
    g.finish();
}

fn training_policy(p: &Problem) -> Option<pathgrid_pricing::ExercisePolicy> {
    let mut batches: Vec<_> =
        (0..p.batches(Phase::Training)).filter_map(|b| TrainingBatch::simulate(p, b).ok()).collect();
    let mut coefficients = vec![None; p.regression_dates()];
    for k in (0..p.regression_dates()).rev() {
        let mut merged = pathgrid_pricing::RegressionStats::new(p.basis_len());
        for tb in &mut batches {
            merged.merge(&tb.regression_stats(p, k).ok()?).ok()?;
        }
        coefficients[k] = merged.solve();
        for tb in &mut batches {
            tb.apply_exercise(p, k, coefficients[k].as_deref()).ok()?;
        }
    }
    Some(pathgrid_pricing::ExercisePolicy { coefficients })
}

criterion_group!(benches, bench);
criterion_main!(benches);
