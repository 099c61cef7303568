//! NodeSession: bridges one node's bidirectional gRPC stream to the scheduler.
//!
//! A reader task turns inbound `NodeMessage`s into scheduler calls; a writer task turns
//! the scheduler's [`ToNode`] messages into `CoordinatorMessage`s. When either side
//! ends (stream closed, protocol violation, scheduler dropped the link after a heartbeat
//! timeout) the other one stops too, and the scheduler hears "lost" exactly once per cause.

use crate::config::CoordinatorConfig;
use crate::error::Error;
use crate::protocol::{NodeTask, NodeTaskKind, SessionId, TaskErrorKind, TaskOutput, ToNode, link_capacity};
use crate::scheduler::{NodeLoad, SchedulerHandle};
use pathgrid_pricing::JobSpec;
use pathgrid_proto::auth::CheckToken;
use pathgrid_proto::convert;
use pathgrid_proto::v1::{self, coordinator_message::Msg as Down, node_message::Msg as Up};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};

pub(crate) type Outbound = ReceiverStream<Result<v1::CoordinatorMessage, Status>>;

/// Largest number of slots a node may announce.
pub const MAX_SLOTS: u32 = 4096;

#[derive(Debug)]
pub(crate) struct SessionFactory {
    pub sched: SchedulerHandle,
    pub config: Arc<CoordinatorConfig>,
    pub check: CheckToken,
    pub next: AtomicU64,
    pub shutdown: CancellationToken,
}

impl SessionFactory {
    /// Reads the Hello, registers the node and starts the bridge tasks.
    pub async fn attach(&self, mut inbound: Streaming<v1::NodeMessage>) -> Result<Outbound, Status> {
        let first = tokio::time::timeout(self.config.hello_timeout, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello in time"))??;
        let hello = match first.and_then(|m| m.msg) {
            Some(Up::Hello(h)) => h,
            _ => return Err(Status::invalid_argument("msg: the first message must be a hello")),
        };
        if !self.check.accepts(&hello.token) {
            return Err(Status::unauthenticated("hello.token: wrong token"));
        }
        let name = check_hello(&hello)?;
        let session: SessionId = self.next.fetch_add(1, Ordering::Relaxed);
        let (resp_tx, resp_rx) = mpsc::channel(64);
        let welcome = v1::CoordinatorMessage {
            msg: Some(Down::Welcome(v1::Welcome {
                coordinator_version: pathgrid_proto::PROTOCOL_VERSION.to_string(),
                heartbeat_interval_ms: self.config.heartbeat_interval.as_millis().min(u32::MAX as u128) as u32,
            })),
        };
        resp_tx.send(Ok(welcome)).await.map_err(|_| Status::cancelled("node went away"))?;
        let (link_tx, link_rx) = mpsc::channel(link_capacity(hello.slots as usize));
        self.sched.attach(session, name.clone(), hello.slots, hello.version.clone(), Box::new(link_tx)).await;
        let done = CancellationToken::new();
        tokio::spawn(writer(
            link_rx,
            resp_tx.clone(),
            done.clone(),
            self.shutdown.clone(),
            self.config.release_nodes_on_shutdown,
        ));
        tokio::spawn(reader(inbound, resp_tx, self.sched.clone(), session, name, done));
        Ok(ReceiverStream::new(resp_rx))
    }
}

async fn writer(
    mut link: mpsc::Receiver<ToNode>,
    out: mpsc::Sender<Result<v1::CoordinatorMessage, Status>>,
    done: CancellationToken,
    shutdown: CancellationToken,
    release: bool,
) {
    loop {
        let msg = tokio::select! {
            _ = done.cancelled() => break,
            msg = link.recv() => match msg {
                Some(m) => m,
                None => break,
            },
        };
        if out.send(Ok(to_proto(msg))).await.is_err() {
            break;
        }
    }
    if shutdown.is_cancelled() {
        let bye = v1::Shutdown { reason: "coordinator shutting down".into(), reconnect: !release };
        let _ = out.try_send(Ok(v1::CoordinatorMessage { msg: Some(Down::Shutdown(bye)) }));
    }
    done.cancel();
}

async fn reader(
    mut inbound: Streaming<v1::NodeMessage>,
    out: mpsc::Sender<Result<v1::CoordinatorMessage, Status>>,
    sched: SchedulerHandle,
    session: SessionId,
    name: String,
    done: CancellationToken,
) {
    let reason = loop {
        let msg = tokio::select! {
            _ = done.cancelled() => break None,
            m = inbound.message() => m,
        };
        match msg {
            Ok(Some(m)) => {
                if let Err(status) = handle(&sched, session, m).await {
                    tracing::warn!(node = %name, error = %status.message(), "protocol violation; closing the stream");
                    let reason = status.message().to_string();
                    let _ = out.try_send(Err(status));
                    break Some(reason);
                }
            }
            Ok(None) => break Some("stream closed".to_string()),
            Err(status) => break Some(format!("stream error: {}", status.message())),
        }
    };
    done.cancel();
    sched.lost(session, reason.unwrap_or_else(|| "link closed by the coordinator".into())).await;
}

async fn handle(sched: &SchedulerHandle, session: SessionId, m: v1::NodeMessage) -> Result<(), Status> {
    match from_node(m)? {
        FromNode::Heartbeat(load) => sched.heartbeat(session, load).await,
        FromNode::Result { task_id, output } => sched.result(session, task_id, output).await,
        FromNode::Error { task_id, kind, message } => sched.task_error(session, task_id, kind, message).await,
    }
    Ok(())
}

/// The node's name from its `Hello` (the token is checked apart, against the configured one).
pub fn check_hello(hello: &v1::Hello) -> Result<String, Status> {
    let name = hello.node_id.trim().to_string();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(Status::invalid_argument("hello.node_id: must be 1 to 128 printable characters"));
    }
    if hello.slots == 0 || hello.slots > MAX_SLOTS {
        return Err(Status::invalid_argument(format!("hello.slots: must be between 1 and {MAX_SLOTS}")));
    }
    Ok(name)
}

/// What a node may say once attached, checked: what the scheduler hears.
#[derive(Debug, Clone, PartialEq)]
pub enum FromNode {
    Heartbeat(NodeLoad),
    Result { task_id: u64, output: TaskOutput },
    Error { task_id: u64, kind: TaskErrorKind, message: String },
}

/// Checks a message a node sent after its `Hello`. An error is a protocol violation: the
/// session closes the node's stream with it.
pub fn from_node(m: v1::NodeMessage) -> Result<FromNode, Status> {
    match m.msg {
        None => Err(Status::invalid_argument("msg: missing")),
        Some(Up::Hello(_)) => Err(Status::invalid_argument("msg: hello sent twice")),
        Some(Up::Heartbeat(hb)) => Ok(FromNode::Heartbeat(NodeLoad { cached_bytes: hb.cached_bytes, jobs: hb.jobs })),
        Some(Up::Result(r)) => Ok(FromNode::Result { task_id: r.task_id, output: task_output(&r)? }),
        Some(Up::Error(e)) => {
            let kind = match v1::TaskErrorCode::try_from(e.code) {
                Ok(v1::TaskErrorCode::NeedState) => TaskErrorKind::NeedState,
                Ok(v1::TaskErrorCode::Fatal) => TaskErrorKind::Fatal,
                Ok(v1::TaskErrorCode::Cancelled) => TaskErrorKind::Cancelled,
                _ => return Err(Status::invalid_argument(format!("error.code: unknown code {}", e.code))),
            };
            let message: String = e.message.chars().take(1000).collect();
            Ok(FromNode::Error { task_id: e.task_id, kind, message })
        }
    }
}

/// The statistics a task result carries, checked for shape only: whether they fit the task
/// (kind, basis size) and are finite is the scheduler's to judge (`scheduler/check.rs`).
pub fn task_output(r: &v1::TaskResult) -> Result<TaskOutput, Status> {
    match &r.stats {
        Some(v1::task_result::Stats::Regression(s)) => {
            Ok(TaskOutput::Regression(convert::regression_from_proto(s, s.dim as usize, "result.regression")?))
        }
        Some(v1::task_result::Stats::Pricing(s)) => {
            Ok(TaskOutput::Pricing(convert::pricing_from_proto(s, "result.pricing")?))
        }
        None => Err(Status::invalid_argument("result.stats: missing")),
    }
}

/// Bytes kept free below the gRPC message limit: a message that only just fits today must
/// not stop fitting when a field grows by a few bytes.
pub const MESSAGE_HEADROOM: usize = 4096;

/// Checks that a message of `bytes` bytes fits the `max`-byte limit with headroom.
pub fn check_size(what: &'static str, bytes: usize, max: usize) -> Result<(), Error> {
    let limit = max.saturating_sub(MESSAGE_HEADROOM);
    if bytes > limit {
        return Err(Error::TooLarge { what, bytes, limit, max });
    }
    Ok(())
}

/// Checks that the job definition each node receives (the spec plus the job id) fits in
/// one message of at most `max` bytes: one that does not could never be delivered.
pub fn check_deliverable(job_id: &str, spec: &JobSpec, max: usize) -> Result<(), Error> {
    check_size("the job definition sent to nodes", definition(job_id, spec).encoded_len(), max)
}

/// The message that defines a job on a node.
fn definition(job_id: &str, spec: &JobSpec) -> v1::CoordinatorMessage {
    let def = v1::JobDefinition { job_id: job_id.to_string(), spec: Some(convert::spec_to_proto(spec)) };
    v1::CoordinatorMessage { msg: Some(Down::Job(def)) }
}

fn to_proto(msg: ToNode) -> v1::CoordinatorMessage {
    let msg = match msg {
        ToNode::Define(ctx) => return definition(&ctx.id, &ctx.spec),
        ToNode::Forget(job_id) => Down::Forget(v1::ForgetJob { job_id: job_id.to_string() }),
        ToNode::Task(t) => Down::Task(task_to_proto(t)),
    };
    v1::CoordinatorMessage { msg: Some(msg) }
}

/// Wire form of a task (public for the bytes-per-round measurement).
pub fn task_to_proto(t: NodeTask) -> v1::Task {
    let kind = match t.kind {
        NodeTaskKind::Train { date, coefficients } => v1::task::Kind::Training(v1::TrainingTask {
            date: date as u32,
            coefficients: coefficients.iter().map(|(k, c)| convert::coefficients_to_proto(*k, c)).collect(),
        }),
        NodeTaskKind::Price { policy } => {
            v1::task::Kind::Pricing(v1::PricingTask { policy: policy.map(|p| convert::policy_to_proto(&p)) })
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
