//! NodeSession: bridges one node's bidirectional gRPC stream to the scheduler.
//!
//! A reader task turns inbound `NodeMessage`s into scheduler calls; a writer task turns
//! the scheduler's [`ToNode`] messages into `CoordinatorMessage`s. When either side
//! ends (stream closed, protocol violation, scheduler dropped the link after a heartbeat
//! timeout) the other one stops too, and the scheduler hears "lost" exactly once per cause.

use crate::config::CoordinatorConfig;
use crate::error::Error;
use crate::protocol::{FromNode, SessionId, ToNode, link_capacity};
use crate::scheduler::SchedulerHandle;
use pathgrid_pricing::JobSpec;
use pathgrid_proto::auth::CheckToken;
use pathgrid_proto::convert;
use pathgrid_proto::v1::{self, node_message::Msg as Up};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};

pub(crate) type Outbound = ReceiverStream<Result<v1::CoordinatorMessage, Status>>;

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
        let name = convert::hello_name(&hello)?;
        let session: SessionId = self.next.fetch_add(1, Ordering::Relaxed);
        let (resp_tx, resp_rx) = mpsc::channel(64);
        let welcome = convert::welcome(self.config.heartbeat_interval);
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
        let _ = out.try_send(Ok(convert::shutdown("coordinator shutting down", !release)));
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
    match convert::from_node(m)? {
        FromNode::Heartbeat(load) => sched.heartbeat(session, load).await,
        FromNode::Result { task_id, output } => sched.result(session, task_id, output).await,
        FromNode::Error { task_id, kind, message } => sched.task_error(session, task_id, kind, message).await,
    }
    Ok(())
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
    check_size("the job definition sent to nodes", convert::definition(job_id, spec).encoded_len(), max)
}

/// The wire form of what the scheduler sends a node.
fn to_proto(msg: ToNode) -> v1::CoordinatorMessage {
    match msg {
        ToNode::Define(ctx) => convert::definition(&ctx.id, &ctx.spec),
        ToNode::Forget(job_id) => convert::forget(&job_id),
        ToNode::Task(t) => convert::task(&t),
    }
}
