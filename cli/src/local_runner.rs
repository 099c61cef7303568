//! Runs a job on a pool of threads through the pricing batch API, without gRPC: what
//! `pathgrid bench` times (the kernels alone) and what the thread-count determinism tests
//! drive. `pathgrid run` uses the embedded cluster instead ([`crate::embedded`]).
//!
//! Batches are spread over threads however the scheduler likes; statistics are merged
//! in batch-index order, so results do not depend on the thread count.

use pathgrid_pricing::{
    Coefficients, Error, ExercisePolicy, InstrumentResult, Job, LegResult, Phase, Problem, RegressionStats,
    TrainingBatch, combine, finish, price_batch,
};

/// Applies `f` to every item on up to `threads` threads, each taking a contiguous run;
/// results keep the items' order.
fn parallel_map<T: Send, R: Send>(items: &mut [T], threads: usize, f: impl Fn(&mut T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    if chunk >= items.len() {
        return items.iter_mut().map(&f).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            items.chunks_mut(chunk).map(|part| scope.spawn(|| part.iter_mut().map(&f).collect::<Vec<R>>())).collect();
        // A worker only panics on a bug in the kernels; surface it rather than hide it.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// Prices every option of `job` (all legs, then their combination); `progress` is told
/// each finished batch.
pub fn run_job(job: &Job, threads: usize, progress: &(dyn Fn(u64) + Sync)) -> Result<Vec<InstrumentResult>, Error> {
    let legs = Problem::all(job).iter().map(|p| run_leg(p, threads, progress)).collect::<Result<Vec<_>, _>>()?;
    combine(job, &legs)
}

fn run_leg(problem: &Problem, threads: usize, progress: &(dyn Fn(u64) + Sync)) -> Result<LegResult, Error> {
    let mut ids: Vec<u64> = (0..problem.batches(Phase::Training)).collect();
    let mut batches = parallel_map(&mut ids, threads, |&mut b| {
        let r = TrainingBatch::simulate(problem, b);
        progress(1);
        r
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;

    let dates = problem.regression_dates();
    let mut coefficients: Vec<Coefficients> = vec![None; dates];
    for k in (0..dates).rev() {
        let previous = coefficients.get(k + 1).cloned().flatten();
        let stats = parallel_map(&mut batches, threads, |tb| {
            if k + 1 < dates {
                tb.apply_exercise(problem, k + 1, previous.as_deref())?;
            }
            let s = tb.regression_stats(problem, k);
            progress(1);
            s
        });
        let mut merged = RegressionStats::new(problem.basis_len());
        for s in stats {
            merged.merge(&s?)?;
        }
        coefficients[k] = merged.solve();
    }
    drop(batches);

    let policy = ExercisePolicy { coefficients };
    let mut ids: Vec<u64> = (0..problem.batches(Phase::Pricing)).collect();
    let sums = parallel_map(&mut ids, threads, |&mut b| {
        let r = price_batch(problem, b, &policy);
        progress(1);
        r
    });
    let stats = sums.into_iter().collect::<Result<Vec<_>, _>>()?;
    finish(problem, &policy, &stats)
}
