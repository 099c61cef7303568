//! What a job returns: its instruments' results and how the work went.

use crate::JobPhase;
use pathgrid_pricing::InstrumentResult;
use serde::{Deserialize, Serialize};

/// How much work a job did, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    pub paths: u64,
    pub training_paths: u64,
    pub path_steps: u64,
    pub elapsed_s: f64,
    pub nodes: u32,
    pub batches: u64,
    pub seed: u64,
}

/// The result document of a job (`pathgrid run --format json`, `results/<name>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub job_id: String,
    pub name: String,
    /// `succeeded`, `failed` or `cancelled` once the job is over; a checkpoint of a running
    /// job keeps its phase here.
    pub status: JobPhase,
    pub results: Vec<InstrumentResult>,
    pub stats: JobStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
