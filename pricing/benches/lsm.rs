//! Throughput of the Longstaff–Schwartz kernels on the LS2001 put (S=36, K=40, σ=0.2,
//! T=1, r=0.06) as a Bermudan on 50 dates, one thread, at every SIMD level the CPU has:
//! simulation alone, the training pass (simulation, regressions, exercise rule), the
//! pricing pass of one batch, and the whole job. Throughput is in path-steps (paths ×
//! simulation steps); ns per path-step = 1000 / (Melem/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pathgrid_pricing::simd::{self, Level};
use pathgrid_pricing::{
    Coefficients, ExercisePolicy, Phase, Problem, RegressionStats, TrainingBatch, parse_job, price_batch,
    price_instrument_sequential,
};
use std::hint::black_box;

const LS2001: &str = r#"{"name":"bench","seed":1,"paths":65536,"training_paths":32768,"batch_size":8192,
  "instruments":[{"id":"put","model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
  "payoff":{"type":"put","strike":40},"exercise":{"style":"bermudan","maturity":1,"steps":50}}]}"#;

fn problem() -> Problem {
    match parse_job(LS2001) {
        Ok(job) => Problem::all(&job).remove(0),
        Err(e) => panic!("bench spec invalid: {e}"),
    }
}

/// The training pass through the batch API, as a node and the coordinator run it.
fn train(p: &Problem) -> Option<ExercisePolicy> {
    let mut batches: Vec<_> =
        (0..p.batches(Phase::Training)).map(|b| TrainingBatch::simulate(p, b).ok()).collect::<Option<_>>()?;
    let mut coefficients: Vec<Coefficients> = vec![None; p.regression_dates()];
    for k in (0..p.regression_dates()).rev() {
        let mut merged = RegressionStats::new(p.basis_len());
        for tb in &mut batches {
            merged.merge(&tb.regression_stats(p, k).ok()?).ok()?;
        }
        coefficients[k] = merged.solve();
        for tb in &mut batches {
            tb.apply_exercise(p, k, coefficients[k].as_deref()).ok()?;
        }
    }
    Some(ExercisePolicy { coefficients })
}

fn bench(c: &mut Criterion) {
    let p = problem();
    let steps = |paths: u64| paths * p.instrument.path_steps();
    let Some(policy) = train(&p) else { panic!("training failed") };
    for level in Level::available() {
        let name = level.name();
        let mut g = c.benchmark_group(format!("ls2001_put/{name}"));
        g.sample_size(10);

        g.throughput(Throughput::Elements(steps(p.settings.batch_size)));
        g.bench_function("simulation", |b| {
            b.iter(|| simd::with_level(level, || black_box(TrainingBatch::simulate(&p, 0).ok())))
        });
        g.throughput(Throughput::Elements(steps(p.settings.training_paths)));
        g.bench_function("training_pass", |b| b.iter(|| simd::with_level(level, || black_box(train(&p)))));
        // Batch 1: batch 0 also carries the dual bound's paths.
        g.throughput(Throughput::Elements(steps(p.settings.batch_size)));
        g.bench_function("pricing_pass", |b| {
            b.iter(|| simd::with_level(level, || black_box(price_batch(&p, 1, &policy).ok())))
        });
        g.throughput(Throughput::Elements(steps(p.settings.paths + p.settings.training_paths)));
        g.bench_function("full_job", |b| {
            b.iter(|| simd::with_level(level, || black_box(price_instrument_sequential(&p).ok())))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
