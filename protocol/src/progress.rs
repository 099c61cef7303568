//! Progress snapshots of a running job.

use crate::{JobPhase, JobResult};
use std::time::Duration;

/// A progress snapshot of a job; the terminal one carries the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub job_id: String,
    pub name: String,
    pub phase: JobPhase,
    /// Training: the regression date being collected (counting down to 0).
    pub date: Option<usize>,
    pub batches_done: u64,
    pub batches_total: u64,
    /// Options of the job finished (every leg of them priced), out of all its options.
    pub instruments_done: u64,
    pub instruments_total: u64,
    pub elapsed: Duration,
    pub eta: Option<Duration>,
    pub result: Option<JobResult>,
    /// Batch results accepted by this coordinator instance, per phase.
    pub training_tasks: u64,
    pub pricing_tasks: u64,
    pub error: Option<String>,
}

impl Progress {
    pub fn is_terminal(&self) -> bool {
        self.phase.is_terminal()
    }
}
