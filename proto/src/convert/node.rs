//! The node stream: what the coordinator sends a node and what a node may answer, both ways.
//!
//! Everything read from the stream is checked for shape here, and an error names the field.
//! A node that sends a malformed message has broken the protocol, and the session closes its
//! stream; a malformed task fails that task on the node. Whether statistics or coefficients
//! fit their instrument is for the receiver to judge (the scheduler's result checks, the
//! node's `Worker`).

use super::spec::spec_from_proto;
use super::spec::spec_to_proto;
use super::stats::{
    coefficients_from_proto, coefficients_to_proto, policy_from_proto, policy_to_proto, pricing_from_proto,
    pricing_to_proto, regression_from_proto, regression_to_proto,
};
use crate::error::Error;
use crate::v1::{self, coordinator_message::Msg as Down, node_message::Msg as Up};
use pathgrid_pricing::JobSpec;
use pathgrid_protocol::{FromNode, JobId, MAX_SLOTS, NodeLoad, NodeTask, NodeTaskKind, TaskErrorKind, TaskOutput};
use std::sync::Arc;
use std::time::Duration;

/// The node's name from its `Hello`, once name and slots are checked (the token is checked
/// apart, against the configured one).
pub fn hello_name(hello: &v1::Hello) -> Result<String, Error> {
    let name = hello.node_id.trim().to_string();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(Error::field("hello.node_id", "must be 1 to 128 printable characters"));
    }
    if hello.slots == 0 || hello.slots > MAX_SLOTS {
        return Err(Error::field("hello.slots", format!("must be between 1 and {MAX_SLOTS}")));
    }
    Ok(name)
}

/// Longest task error message kept from a node.
const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// Checks a message a node sent after its `Hello`: what the scheduler hears.
pub fn from_node(m: v1::NodeMessage) -> Result<FromNode, Error> {
    match m.msg {
        None => Err(Error::missing("msg")),
        Some(Up::Hello(_)) => Err(Error::field("msg", "hello sent twice")),
        Some(Up::Heartbeat(hb)) => Ok(FromNode::Heartbeat(NodeLoad { cached_bytes: hb.cached_bytes, jobs: hb.jobs })),
        Some(Up::Result(r)) => Ok(FromNode::Result { task_id: r.task_id, output: task_output(&r)? }),
        Some(Up::Error(e)) => {
            let kind = match v1::TaskErrorCode::try_from(e.code) {
                Ok(v1::TaskErrorCode::NeedState) => TaskErrorKind::NeedState,
                Ok(v1::TaskErrorCode::Fatal) => TaskErrorKind::Fatal,
                Ok(v1::TaskErrorCode::Cancelled) => TaskErrorKind::Cancelled,
                _ => return Err(Error::field("error.code", format!("unknown code {}", e.code))),
            };
            let message: String = e.message.chars().take(MAX_ERROR_MESSAGE_CHARS).collect();
            Ok(FromNode::Error { task_id: e.task_id, kind, message })
        }
    }
}

/// The statistics a task result carries, checked for shape only: whether they fit the task
/// (kind, basis size) and are finite is the scheduler's to judge.
pub fn task_output(r: &v1::TaskResult) -> Result<TaskOutput, Error> {
    match &r.stats {
        Some(v1::task_result::Stats::Regression(s)) => {
            Ok(TaskOutput::Regression(regression_from_proto(s, s.dim as usize, "result.regression")?))
        }
        Some(v1::task_result::Stats::Pricing(s)) => Ok(TaskOutput::Pricing(pricing_from_proto(s, "result.pricing")?)),
        None => Err(Error::missing("result.stats")),
    }
}

/// The coordinator's answer to a good `Hello`: its version and how often to beat.
pub fn welcome(heartbeat_interval: Duration) -> v1::CoordinatorMessage {
    let welcome = v1::Welcome {
        coordinator_version: crate::PROTOCOL_VERSION.to_string(),
        heartbeat_interval_ms: u32::try_from(heartbeat_interval.as_millis()).unwrap_or(u32::MAX),
    };
    v1::CoordinatorMessage { msg: Some(Down::Welcome(welcome)) }
}

/// The coordinator's last word to a node: why it stops, and whether to come back.
pub fn shutdown(reason: &str, reconnect: bool) -> v1::CoordinatorMessage {
    v1::CoordinatorMessage { msg: Some(Down::Shutdown(v1::Shutdown { reason: reason.to_string(), reconnect })) }
}

/// The message that defines a job on a node.
pub fn definition(job_id: &str, spec: &JobSpec) -> v1::CoordinatorMessage {
    let def = v1::JobDefinition { job_id: job_id.to_string(), spec: Some(spec_to_proto(spec)) };
    v1::CoordinatorMessage { msg: Some(Down::Job(def)) }
}

/// The message that tells a node a job is over.
pub fn forget(job_id: &str) -> v1::CoordinatorMessage {
    v1::CoordinatorMessage { msg: Some(Down::Forget(v1::ForgetJob { job_id: job_id.to_string() })) }
}

/// The message that hands a node a task.
pub fn task(t: &NodeTask) -> v1::CoordinatorMessage {
    v1::CoordinatorMessage { msg: Some(Down::Task(task_to_proto(t))) }
}

fn task_to_proto(t: &NodeTask) -> v1::Task {
    let kind = match &t.kind {
        NodeTaskKind::Train { date, coefficients } => v1::task::Kind::Training(v1::TrainingTask {
            date: *date as u32,
            coefficients: coefficients.iter().map(|(k, c)| coefficients_to_proto(*k, c)).collect(),
        }),
        NodeTaskKind::Price { policy } => {
            v1::task::Kind::Pricing(v1::PricingTask { policy: policy.as_deref().map(policy_to_proto) })
        }
    };
    v1::Task {
        task_id: t.task_id,
        job_id: t.job_id.to_string(),
        instrument: t.instrument,
        batch: t.batch,
        kind: Some(kind),
    }
}

// ------------------------------------------------------------------ the node's side

/// A node's first message.
pub fn hello(node_id: &str, slots: usize, token: &str) -> v1::NodeMessage {
    let hello = v1::Hello {
        node_id: node_id.to_string(),
        slots: u32::try_from(slots).unwrap_or(u32::MAX),
        version: crate::PROTOCOL_VERSION.to_string(),
        token: token.to_string(),
    };
    v1::NodeMessage { msg: Some(Up::Hello(hello)) }
}

/// A node's heartbeat: its sequence number, tasks running and what it holds.
pub fn heartbeat(seq: u64, running: usize, load: NodeLoad) -> v1::NodeMessage {
    let hb = v1::Heartbeat {
        seq,
        running: u32::try_from(running).unwrap_or(u32::MAX),
        cached_bytes: load.cached_bytes,
        jobs: load.jobs,
    };
    v1::NodeMessage { msg: Some(Up::Heartbeat(hb)) }
}

/// A task's statistics, with the compute time it took.
pub fn task_result(task_id: u64, output: &TaskOutput, compute_micros: u64) -> v1::NodeMessage {
    let stats = match output {
        TaskOutput::Regression(s) => v1::task_result::Stats::Regression(regression_to_proto(s)),
        TaskOutput::Pricing(s) => v1::task_result::Stats::Pricing(pricing_to_proto(s)),
    };
    v1::NodeMessage { msg: Some(Up::Result(v1::TaskResult { task_id, stats: Some(stats), compute_micros })) }
}

/// A task not done, and why.
pub fn task_error(task_id: u64, kind: TaskErrorKind, message: &str) -> v1::NodeMessage {
    let code = match kind {
        TaskErrorKind::NeedState => v1::TaskErrorCode::NeedState,
        TaskErrorKind::Fatal => v1::TaskErrorCode::Fatal,
        TaskErrorKind::Cancelled => v1::TaskErrorCode::Cancelled,
    };
    v1::NodeMessage { msg: Some(Up::Error(v1::TaskError { task_id, code: code as i32, message: message.to_string() })) }
}

/// A job definition as a node reads it: the job id, and the spec or why it cannot be read
/// (the node refuses the job for that reason, so its tasks fail rather than wait).
pub fn definition_from_proto(def: &v1::JobDefinition) -> (JobId, Result<JobSpec, Error>) {
    let spec = match &def.spec {
        None => Err(Error::missing("job.spec")),
        Some(spec) => spec_from_proto(spec).map_err(|e| e.within("job.spec")),
    };
    (Arc::from(def.job_id.as_str()), spec)
}

/// A task as a node reads it, checked for shape.
pub fn task_from_proto(t: &v1::Task) -> Result<NodeTask, Error> {
    let kind = match &t.kind {
        None => return Err(Error::missing("task.kind")),
        Some(v1::task::Kind::Training(tr)) => NodeTaskKind::Train {
            date: tr.date as usize,
            coefficients: tr
                .coefficients
                .iter()
                .enumerate()
                .map(|(i, c)| coefficients_from_proto(c, &format!("task.training.coefficients[{i}]")))
                .collect::<Result<_, _>>()?,
        },
        Some(v1::task::Kind::Pricing(p)) => NodeTaskKind::Price {
            policy: p
                .policy
                .as_ref()
                .map(|policy| policy_from_proto(policy, "task.pricing.policy").map(Arc::new))
                .transpose()?,
        },
    };
    Ok(NodeTask {
        task_id: t.task_id,
        job_id: Arc::from(t.job_id.as_str()),
        instrument: t.instrument,
        batch: t.batch,
        kind,
    })
}
