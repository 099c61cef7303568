//! What the coordinator's actors hand each other about jobs and nodes, independent of gRPC.
//! The node-facing messages themselves ([`NodeTask`], [`FromNode`], …) are `pathgrid-protocol`'s.
//!
//! The [`NodeLink`] trait is the test seam: the scheduler talks to a node only through
//! it, so a unit test can attach thousands of in-process virtual nodes without sockets,
//! while [`crate::session`] bridges a real gRPC stream.

use pathgrid_pricing::{Coefficients, ExercisePolicy, Job, JobSpec, Problem};
/// The messages a node exchanges, defined with the other orchestration types.
pub use pathgrid_protocol::{FromNode, JobId, NodeTask, NodeTaskKind, TaskErrorKind, TaskOutput};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Identifies one attachment of a node (a reconnecting node gets a new one).
pub type SessionId = u64;

/// Everything about a job that does not change while it runs.
#[derive(Debug)]
pub struct JobContext {
    pub id: JobId,
    pub spec: JobSpec,
    pub job: Job,
    pub problems: Vec<Problem>,
}

impl JobContext {
    pub fn new(id: JobId, spec: JobSpec, job: Job) -> Self {
        let problems = Problem::all(&job);
        JobContext { id, spec, job, problems }
    }
}

/// A runnable unit of work waiting in the scheduler.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub job: Arc<JobContext>,
    pub instrument: u32,
    pub batch: u64,
    pub work: Work,
    /// Send every piece of state the node could need (after it said it lacks some).
    pub full: bool,
}

#[derive(Debug, Clone)]
pub enum Work {
    /// Training round at regression date `date`; `solved[k]` is valid for every k > date.
    Train {
        date: usize,
        solved: Arc<Vec<Coefficients>>,
    },
    Price {
        policy: Arc<ExercisePolicy>,
    },
}

/// Identifies which round a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Round {
    Train(usize),
    Price,
}

impl Work {
    pub fn round(&self) -> Round {
        match self {
            Work::Train { date, .. } => Round::Train(*date),
            Work::Price { .. } => Round::Price,
        }
    }
}

/// A message from the coordinator to one node.
#[derive(Debug, Clone)]
pub enum ToNode {
    /// The job definition, sent once per job before its first task on the node.
    Define(Arc<JobContext>),
    Task(NodeTask),
    /// The job is over: drop its state, report queued tasks of it as cancelled.
    Forget(JobId),
}

/// The link closed or cannot take more: the scheduler treats the node as lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClosed;

/// The scheduler's only way to talk to a node. `send` must not block.
pub trait NodeLink: Send + 'static {
    fn send(&mut self, msg: ToNode) -> Result<(), LinkClosed>;
}

impl NodeLink for mpsc::Sender<ToNode> {
    fn send(&mut self, msg: ToNode) -> Result<(), LinkClosed> {
        self.try_send(msg).map_err(|_| LinkClosed)
    }
}

/// Capacity of a node link: tasks in flight plus definitions and forgets.
pub fn link_capacity(slots: usize) -> usize {
    slots.saturating_mul(32).saturating_add(256)
}
