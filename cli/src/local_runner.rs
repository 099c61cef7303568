//! Runs a job on a pool of threads of a given size, without gRPC: what `pathgrid bench`
//! times (the kernels alone) and what the thread-count determinism tests drive.
//! `pathgrid run` uses the embedded cluster instead ([`crate::embedded`]).
//!
//! The driver is the pricing crate's ([`pathgrid_pricing::driver`]) with its batches on a
//! rayon pool of `threads` threads; results are collected and merged in batch order, so
//! they do not depend on the thread count.

use pathgrid_pricing::driver::{self, OnRayon};
use pathgrid_pricing::{InstrumentResult, Job};

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
    Ok(pool.install(|| driver::price_job(job, &OnRayon, progress))?)
}
