//! pathgrid pricing core: job specs, validation, GBM paths and the Longstaff–Schwartz
//! method as batch kernels with mergeable statistics.
//!
//! This crate does no I/O and spawns no threads. A runner drives it through the
//! batch-level API: in process, [`driver`] (in order, or on the caller's rayon pool with
//! the `rayon` feature); across machines, the coordinator and its nodes. Either way:
//!
//! 1. [`TrainingBatch::simulate`] each training batch;
//! 2. for each regression date `k` from the last to the first:
//!    [`TrainingBatch::regression_stats`] per batch → [`RegressionStats::merge`] in batch
//!    order → [`RegressionStats::solve`] → [`TrainingBatch::apply_exercise`] on every batch;
//! 3. [`price_batch`] per pricing batch → [`finish`] over the batch sums in batch order;
//! 4. once every leg of the job is finished, [`combine`] turns the legs of each option
//!    ([`plan`]) into its price and interval.
//!
//! Because every batch draws from its own stream and merges happen in batch order,
//! results are bit-identical however batches are spread over threads or machines.

pub mod basis;
pub mod black_scholes;
mod block;
pub mod combine;
pub mod driver;
pub mod dual;
pub mod error;
pub mod fastmath;
pub mod input;
pub mod job;
pub mod lanes;
pub mod linalg;
pub mod model;
pub mod normal;
pub mod paths;
pub mod payoff;
pub mod plan;
pub mod pricing_pass;
pub mod problem;
pub mod regression;
pub mod result;
pub mod rng;
pub mod simd;
pub mod spec;
pub mod symmetry;
pub mod training;
pub mod validate;
pub mod workshop_csv;

pub use combine::combine;
pub use error::{Error, SpecErrors, SpecIssue};
pub use input::{Input, parse_input};
pub use job::{Instrument, Job, Settings, Style};
pub use plan::{LegKind, Output};
pub use pricing_pass::{ExercisePolicy, PricingStats, price_batch};
pub use problem::Problem;
pub use regression::RegressionStats;
pub use result::{Accuracy, Estimate, InstrumentResult, LegResult, finish};
pub use rng::Phase;
pub use spec::JobSpec;
pub use training::{Coefficients, TrainingBatch};
pub use validate::{parse_job, parse_spec};

/// Runs one leg in order on this thread: the reference the parallel and distributed
/// runners must reproduce bit for bit.
pub fn price_instrument_sequential(problem: &Problem) -> Result<LegResult, Error> {
    driver::price_leg(problem, &driver::InOrder, &|_| {})
}

/// Prices a whole job in order on this thread: every leg, then their combination per option.
pub fn price_job_sequential(job: &Job) -> Result<Vec<InstrumentResult>, Error> {
    driver::price_job(job, &driver::InOrder, &|_| {})
}
