//! Runs a job on a pool of threads through the pricing batch API, without gRPC: what
//! `pathgrid bench` times (the kernels alone) and what the thread-count determinism tests
//! drive. `pathgrid run` uses the embedded cluster instead ([`crate::embedded`]).
//!
//! Batches are spread over a rayon pool of the requested size however its work stealing
//! likes; their statistics are collected in batch-index order and merged in that order,
//! so results do not depend on the thread count.

use pathgrid_pricing::{
    Coefficients, ExercisePolicy, InstrumentResult, Job, LegResult, Phase, Problem, RegressionStats, TrainingBatch,
    combine, finish, price_batch,
};
use rayon::prelude::*;

/// Why a local run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start a pool of {threads} pricing threads: {source}")]
    Threads {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    #[error(transparent)]
    Pricing(#[from] pathgrid_pricing::Error),
}

/// Prices every option of `job` (all legs, then their combination) on `threads` threads
/// (at least one); `progress` is told each finished batch.
pub fn run_job(job: &Job, threads: usize, progress: &(dyn Fn(u64) + Sync)) -> Result<Vec<InstrumentResult>, RunError> {
    let threads = threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("pathgrid-local-{i}"))
        .build()
        .map_err(|source| RunError::Threads { threads, source })?;
    let legs =
        pool.install(|| Problem::all(job).iter().map(|p| run_leg(p, progress)).collect::<Result<Vec<_>, _>>())?;
    Ok(combine(job, &legs)?)
}

/// One leg on the current pool.
fn run_leg(problem: &Problem, progress: &(dyn Fn(u64) + Sync)) -> Result<LegResult, pathgrid_pricing::Error> {
    let mut batches = batch_ids(problem, Phase::Training)
        .par_iter()
        .map(|&b| {
            let r = TrainingBatch::simulate(problem, b);
            progress(1);
            r
        })
        .collect::<Result<Vec<_>, _>>()?;

    let dates = problem.regression_dates();
    let mut coefficients: Vec<Coefficients> = vec![None; dates];
    for k in (0..dates).rev() {
        let previous = coefficients.get(k + 1).cloned().flatten();
        let stats: Vec<_> = batches
            .par_iter_mut()
            .map(|tb| {
                if k + 1 < dates {
                    tb.apply_exercise(problem, k + 1, previous.as_deref())?;
                }
                let s = tb.regression_stats(problem, k);
                progress(1);
                s
            })
            .collect();
        let mut merged = RegressionStats::new(problem.basis_len());
        for s in stats {
            merged.merge(&s?)?;
        }
        coefficients[k] = merged.solve();
    }
    drop(batches);

    let policy = ExercisePolicy { coefficients };
    let stats = batch_ids(problem, Phase::Pricing)
        .par_iter()
        .map(|&b| {
            let r = price_batch(problem, b, &policy);
            progress(1);
            r
        })
        .collect::<Result<Vec<_>, _>>()?;
    finish(problem, &policy, &stats)
}

/// The batch indices of a phase, as a slice rayon splits by index (so that collecting
/// keeps batch order).
fn batch_ids(problem: &Problem, phase: Phase) -> Vec<u64> {
    (0..problem.batches(phase)).collect()
}
