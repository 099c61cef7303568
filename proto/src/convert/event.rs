//! What clients watch: progress events and the node list.

use super::result::{job_result_from_proto, job_result_to_proto, phase_from_proto, phase_to_proto};
use crate::error::Error;
use crate::v1;
use pathgrid_protocol::{JobPhase, NodeInfo, NodeLoad, Progress};
use std::time::Duration;

pub fn progress_to_proto(p: &Progress) -> v1::JobEvent {
    v1::JobEvent {
        job_id: p.job_id.clone(),
        name: p.name.clone(),
        phase: phase_to_proto(p.phase) as i32,
        date: p.date.unwrap_or(0) as u32,
        batches_done: p.batches_done,
        batches_total: p.batches_total,
        instruments_done: p.instruments_done,
        instruments_total: p.instruments_total,
        elapsed_s: p.elapsed.as_secs_f64(),
        eta_s: p.eta.map(|d| d.as_secs_f64()),
        result: p.result.as_ref().map(job_result_to_proto),
        training_tasks: p.training_tasks,
        pricing_tasks: p.pricing_tasks,
        error: p.error.clone(),
    }
}

/// A duration in seconds from the wire; a negative, infinite or NaN one reads as zero
/// (these are display figures, never used to decide anything).
fn secs(x: f64) -> Duration {
    Duration::try_from_secs_f64(x).unwrap_or_default()
}

pub fn progress_from_proto(e: &v1::JobEvent) -> Result<Progress, Error> {
    let phase = phase_from_proto(e.phase, "event.phase")?;
    Ok(Progress {
        job_id: e.job_id.clone(),
        name: e.name.clone(),
        phase,
        date: (phase == JobPhase::Training).then_some(e.date as usize),
        batches_done: e.batches_done,
        batches_total: e.batches_total,
        instruments_done: e.instruments_done,
        instruments_total: e.instruments_total,
        elapsed: secs(e.elapsed_s),
        eta: e.eta_s.map(secs),
        result: e.result.as_ref().map(job_result_from_proto).transpose()?,
        training_tasks: e.training_tasks,
        pricing_tasks: e.pricing_tasks,
        error: e.error.clone(),
    })
}

pub fn node_to_proto(n: &NodeInfo) -> v1::NodeInfo {
    v1::NodeInfo {
        node_id: n.name.clone(),
        slots: n.slots,
        running: n.running,
        version: n.version.clone(),
        last_heartbeat_s: n.since_heartbeat.as_secs_f64(),
        tasks_done: n.tasks_done,
        cached_bytes: n.load.cached_bytes,
        jobs: n.load.jobs,
    }
}

pub fn node_from_proto(n: &v1::NodeInfo) -> NodeInfo {
    NodeInfo {
        session: 0,
        name: n.node_id.clone(),
        slots: n.slots,
        running: n.running,
        version: n.version.clone(),
        since_heartbeat: secs(n.last_heartbeat_s),
        tasks_done: n.tasks_done,
        load: NodeLoad { cached_bytes: n.cached_bytes, jobs: n.jobs },
    }
}
