//! The work a coordinator hands a node, and what the node answers.

use pathgrid_pricing::{Coefficients, ExercisePolicy, PricingStats, RegressionStats};
use std::sync::Arc;

pub type JobId = Arc<str>;

/// One batch of work for a node.
#[derive(Debug, Clone)]
pub struct NodeTask {
    pub task_id: u64,
    pub job_id: JobId,
    pub instrument: u32,
    pub batch: u64,
    pub kind: NodeTaskKind,
}

#[derive(Debug, Clone)]
pub enum NodeTaskKind {
    /// Apply the coefficients of dates after `date` not applied yet, then return the
    /// regression statistics at `date`. `coefficients` holds (date, β) pairs: only
    /// β_{date+1} for the batch's owner, all solved dates for a batch moved here.
    Train { date: usize, coefficients: Vec<(usize, Coefficients)> },
    /// Price the batch; the policy is attached the first time the node needs it.
    Price { policy: Option<Arc<ExercisePolicy>> },
}

/// What a node computed for a task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutput {
    Regression(RegressionStats),
    Pricing(PricingStats),
}

/// Why a node reports a task as not done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskErrorKind {
    /// The node lacks state (job definition, coefficients, policy): resend in full.
    NeedState,
    /// The task cannot succeed: the job fails.
    Fatal,
    /// The node dropped the task because its job was forgotten.
    Cancelled,
}

/// What a node may say once attached, checked: what the scheduler hears.
#[derive(Debug, Clone, PartialEq)]
pub enum FromNode {
    Heartbeat(crate::NodeLoad),
    Result { task_id: u64, output: TaskOutput },
    Error { task_id: u64, kind: TaskErrorKind, message: String },
}
