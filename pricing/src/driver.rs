//! The one in-process driver of the Longstaff–Schwartz method over the batch API: training
//! batches, then for each regression date from the last to the first the per-batch
//! statistics merged in batch order and solved, then the pricing batches and [`finish`].
//!
//! How the batches of a step are run is the caller's choice ([`BatchMap`]): in order on
//! this thread ([`InOrder`], the reference that tests compare every runner with) or, with
//! the `rayon` feature, spread over the current rayon pool ([`OnRayon`]). The results of a
//! step come back in batch order whatever the map, and are merged in that order, so every
//! map gives the same bits. This module spawns no threads: a caller that wants a pool of a
//! given size installs one. (The coordinator drives the same kernels across machines, one
//! round at a time, with the same merge order.)

use crate::combine::combine;
use crate::error::Error;
use crate::job::Job;
use crate::pricing_pass::{ExercisePolicy, price_batch};
use crate::problem::Problem;
use crate::regression::RegressionStats;
use crate::result::{InstrumentResult, LegResult, finish};
use crate::rng::Phase;
use crate::training::{Coefficients, TrainingBatch};

/// Runs one step's work on every item, returning the results in item order.
pub trait BatchMap {
    fn map<T: Send, R: Send>(&self, items: &mut [T], f: &(dyn Fn(&mut T) -> R + Sync)) -> Vec<R>;
}

/// Every batch in order, on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct InOrder;

impl BatchMap for InOrder {
    fn map<T: Send, R: Send>(&self, items: &mut [T], f: &(dyn Fn(&mut T) -> R + Sync)) -> Vec<R> {
        items.iter_mut().map(f).collect()
    }
}

/// Batches spread over the current rayon pool (the global one unless the caller installed
/// another); collected by index, so in batch order.
#[cfg(feature = "rayon")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OnRayon;

#[cfg(feature = "rayon")]
impl BatchMap for OnRayon {
    fn map<T: Send, R: Send>(&self, items: &mut [T], f: &(dyn Fn(&mut T) -> R + Sync)) -> Vec<R> {
        use rayon::prelude::*;
        items.par_iter_mut().map(f).collect()
    }
}

/// Prices one leg; `progress` is told each finished batch task.
pub fn price_leg(problem: &Problem, map: &impl BatchMap, progress: &(dyn Fn(u64) + Sync)) -> Result<LegResult, Error> {
    let mut ids: Vec<u64> = (0..problem.batches(Phase::Training)).collect();
    let mut batches = map
        .map(&mut ids, &|&mut b| {
            let r = TrainingBatch::simulate(problem, b);
            progress(1);
            r
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;

    let dates = problem.regression_dates();
    let mut coefficients: Vec<Coefficients> = vec![None; dates];
    for k in (0..dates).rev() {
        // β of the date after k, applied to each batch before its statistics at k.
        let later = coefficients.get(k + 1).cloned().flatten();
        let stats = map.map(&mut batches, &|tb| {
            if k + 1 < dates {
                tb.apply_exercise(problem, k + 1, later.as_deref())?;
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
    let stats = map
        .map(&mut ids, &|&mut b| {
            let r = price_batch(problem, b, &policy);
            progress(1);
            r
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    finish(problem, &policy, &stats)
}

/// Prices every option of `job`: each leg in turn, then their combination per option.
pub fn price_job(
    job: &Job,
    map: &impl BatchMap,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<InstrumentResult>, Error> {
    let legs = Problem::all(job).iter().map(|p| price_leg(p, map, progress)).collect::<Result<Vec<_>, _>>()?;
    combine(job, &legs)
}
