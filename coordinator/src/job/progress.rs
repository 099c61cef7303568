//! What a job reports about itself: its phase and progress snapshots.

use pathgrid_pricing::{JobResult, JobStatus};
use std::time::Duration;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    Queued,
    Training,
    Pricing,
    Done,
    Failed,
    Cancelled,
}

impl JobPhase {
    pub fn is_terminal(self) -> bool {
        matches!(self, JobPhase::Done | JobPhase::Failed | JobPhase::Cancelled)
    }

    /// The status a job in this phase reports (in checkpoints, results and errors).
    pub fn status(self) -> JobStatus {
        match self {
            JobPhase::Queued => JobStatus::Queued,
            JobPhase::Training | JobPhase::Pricing => JobStatus::Running,
            JobPhase::Done => JobStatus::Succeeded,
            JobPhase::Failed => JobStatus::Failed,
            JobPhase::Cancelled => JobStatus::Cancelled,
        }
    }
}

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
