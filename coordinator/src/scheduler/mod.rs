//! The scheduler actor: it composes the node registry ([`registry`]: which nodes exist,
//! their capacity, liveness and what they hold) with the work queues ([`queues`]: waiting
//! and in-flight tasks, assignment order), and owns slot-based dispatch and the single
//! "node lost" path. Results are judged by [`check`] before they reach a job.
//!
//! It never blocks on anybody: nodes are reached through non-blocking [`NodeLink`]s, and
//! job actors through bounded channels with a local outbox when one is full.

mod check;
mod queues;
mod registry;

use crate::job::JobMsg;
use crate::protocol::{
    JobId, NodeLink, NodeTask, NodeTaskKind, SessionId, TaskErrorKind, TaskOutput, TaskSpec, ToNode, Work,
};
use check::{Fault, check_output};
use queues::Queues;
use registry::{Registry, batch_key};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use pathgrid_protocol::{NodeInfo, NodeLoad};

/// Counters, for tests and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    pub dispatched: u64,
    pub accepted: u64,
    /// Results from a node for a task it no longer owns (lost, or late): dropped.
    pub stale: u64,
    pub nodes_lost: u64,
    pub requeued: u64,
}

pub(crate) enum SchedMsg {
    Attach { session: SessionId, name: String, slots: u32, version: String, link: Box<dyn NodeLink> },
    Result { session: SessionId, task_id: u64, output: TaskOutput },
    TaskError { session: SessionId, task_id: u64, kind: TaskErrorKind, message: String },
    Heartbeat { session: SessionId, load: NodeLoad },
    Lost { session: SessionId, reason: String },
    RegisterJob { id: JobId, tx: mpsc::Sender<JobMsg> },
    Enqueue { job: JobId, tasks: Vec<TaskSpec> },
    JobFinished { job: JobId },
    ListNodes { reply: oneshot::Sender<Vec<NodeInfo>> },
    Stats { reply: oneshot::Sender<SchedulerStats> },
}

/// Handle to the scheduler actor. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SchedulerHandle {
    tx: mpsc::Sender<SchedMsg>,
}

impl std::fmt::Debug for SchedMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchedMsg")
    }
}

impl SchedulerHandle {
    async fn send(&self, msg: SchedMsg) {
        // A closed scheduler means the coordinator is shutting down: nothing to do.
        let _ = self.tx.send(msg).await;
    }

    /// A node attached: `link` is how the scheduler reaches it from now on.
    pub async fn attach(&self, session: SessionId, name: String, slots: u32, version: String, link: Box<dyn NodeLink>) {
        self.send(SchedMsg::Attach { session, name, slots, version, link }).await
    }

    pub async fn result(&self, session: SessionId, task_id: u64, output: TaskOutput) {
        self.send(SchedMsg::Result { session, task_id, output }).await
    }

    pub async fn task_error(&self, session: SessionId, task_id: u64, kind: TaskErrorKind, message: String) {
        self.send(SchedMsg::TaskError { session, task_id, kind, message }).await
    }

    pub async fn heartbeat(&self, session: SessionId, load: NodeLoad) {
        self.send(SchedMsg::Heartbeat { session, load }).await
    }

    /// The node's stream closed or misbehaved: same path as a heartbeat timeout.
    pub async fn lost(&self, session: SessionId, reason: String) {
        self.send(SchedMsg::Lost { session, reason }).await
    }

    pub(crate) async fn register_job(&self, id: JobId, tx: mpsc::Sender<JobMsg>) {
        self.send(SchedMsg::RegisterJob { id, tx }).await
    }

    pub(crate) async fn enqueue(&self, job: JobId, tasks: Vec<TaskSpec>) {
        self.send(SchedMsg::Enqueue { job, tasks }).await
    }

    pub(crate) async fn job_finished(&self, job: JobId) {
        self.send(SchedMsg::JobFinished { job }).await
    }

    pub async fn list_nodes(&self) -> Vec<NodeInfo> {
        let (reply, rx) = oneshot::channel();
        self.send(SchedMsg::ListNodes { reply }).await;
        rx.await.unwrap_or_default()
    }

    pub async fn stats(&self) -> SchedulerStats {
        let (reply, rx) = oneshot::channel();
        self.send(SchedMsg::Stats { reply }).await;
        rx.await.unwrap_or_default()
    }
}

struct JobLink {
    tx: mpsc::Sender<JobMsg>,
    outbox: VecDeque<JobMsg>,
}

struct Scheduler {
    rx: mpsc::Receiver<SchedMsg>,
    heartbeat_timeout: Duration,
    registry: Registry,
    queues: Queues,
    jobs: HashMap<JobId, JobLink>,
    stats: SchedulerStats,
}

/// Starts the scheduler actor; it stops when `shutdown` fires.
///
/// A node gets up to `slots × pipeline_depth` tasks in flight: it computes `slots` at a
/// time and has the next ones queued, so round trips do not leave its cores idle.
pub fn spawn(
    heartbeat_timeout: Duration,
    pipeline_depth: usize,
    shutdown: CancellationToken,
) -> (SchedulerHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(4096);
    let s = Scheduler {
        rx,
        heartbeat_timeout,
        registry: Registry::new(pipeline_depth.clamp(1, 16)),
        queues: Queues::new(),
        jobs: HashMap::new(),
        stats: SchedulerStats::default(),
    };
    let join = tokio::spawn(s.run(shutdown));
    (SchedulerHandle { tx }, join)
}

impl Scheduler {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval((self.heartbeat_timeout / 4).max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let pending_outbox = self.jobs.values().any(|j| !j.outbox.is_empty());
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => break,
                },
                _ = tick.tick() => self.check_heartbeats(),
                _ = tokio::time::sleep(Duration::from_millis(1)), if pending_outbox => {}
            }
            self.flush_outboxes();
        }
        // Dropping the links ends every node session.
        self.registry.clear();
    }

    fn handle(&mut self, msg: SchedMsg) {
        match msg {
            SchedMsg::Attach { session, name, slots, version, link } => {
                self.attach(session, name, slots, version, link)
            }
            SchedMsg::Result { session, task_id, output } => self.on_result(session, task_id, output),
            SchedMsg::TaskError { session, task_id, kind, message } => {
                self.on_task_error(session, task_id, kind, message)
            }
            SchedMsg::Heartbeat { session, load } => self.registry.heartbeat(session, load),
            SchedMsg::Lost { session, reason } => self.lose_node(session, &reason),
            SchedMsg::RegisterJob { id, tx } => {
                self.jobs.insert(id.clone(), JobLink { tx, outbox: VecDeque::new() });
                self.queues.add_job(id);
            }
            SchedMsg::Enqueue { job, tasks } => {
                if !self.jobs.contains_key(&job) {
                    return;
                }
                for t in tasks {
                    self.enqueue(t, false);
                }
                self.dispatch_all();
            }
            SchedMsg::JobFinished { job } => self.job_finished(&job),
            SchedMsg::ListNodes { reply } => {
                let list = self.registry.list(|s| self.queues.in_flight(s));
                let _ = reply.send(list);
            }
            SchedMsg::Stats { reply } => {
                let _ = reply.send(self.stats);
            }
        }
    }

    fn attach(&mut self, session: SessionId, name: String, slots: u32, version: String, link: Box<dyn NodeLink>) {
        // A node that reconnects under the same name replaces its old session.
        for s in self.registry.sessions_named(&name) {
            self.lose_node(s, "replaced by a new session of the same node");
        }
        tracing::info!(node = %name, session, slots, "node attached");
        self.registry.insert(session, name, slots, version, link);
        self.queues.add_node(session);
        self.dispatch_all();
    }

    /// Queues a task: on its training batch's owner if that node is alive, else globally.
    fn enqueue(&mut self, t: TaskSpec, front: bool) {
        let home = match t.work {
            Work::Train { .. } => self.registry.live_owner(&batch_key(&t)),
            Work::Price { .. } => None,
        };
        self.queues.push(t, home, front);
    }

    /// Fills free slots everywhere, one task per node per pass so work spreads out.
    fn dispatch_all(&mut self) {
        loop {
            let mut progressed = false;
            for s in self.registry.free() {
                if self.dispatch_one(s) {
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Fills the free slots of one node.
    fn dispatch_node(&mut self, s: SessionId) {
        while self.dispatch_one(s) {}
    }

    /// Sends one task to node `s` if it has a free slot and there is work for it.
    fn dispatch_one(&mut self, s: SessionId) -> bool {
        let Some(n) = self.registry.get_mut(s) else { return false };
        if self.queues.in_flight(s) >= n.slots {
            self.registry.mark_full(s);
            return false;
        }
        let Some(task) = self.queues.next_for(s) else { return false };
        self.send_task(s, task);
        true
    }

    fn send_task(&mut self, s: SessionId, t: TaskSpec) {
        let task_id = self.queues.next_task_id();
        let key = batch_key(&t);
        let owner = self.registry.owner(&key);
        let Some(n) = self.registry.get_mut(s) else {
            self.enqueue(t, true);
            return;
        };
        let mut ok = true;
        if t.full {
            n.defined.remove(&t.job.id);
            n.policies.remove(&(t.job.id.clone(), t.instrument));
        }
        if !n.defined.contains(&t.job.id) {
            ok &= n.link.send(ToNode::Define(t.job.clone())).is_ok();
            n.defined.insert(t.job.id.clone());
        }
        let kind = match &t.work {
            Work::Train { date, solved } => {
                // The owner already holds the batch up to date + 2: it needs β_{date+1}
                // only. Any other node rebuilds the batch and needs every solved date.
                let from = (*date + 1).min(solved.len());
                let upto = if owner == Some(s) && !t.full { (from + 1).min(solved.len()) } else { solved.len() };
                let coefficients = (from..upto).map(|k| (k, solved[k].clone())).collect();
                NodeTaskKind::Train { date: *date, coefficients }
            }
            Work::Price { policy } => {
                let pk = (t.job.id.clone(), t.instrument);
                let policy = if n.policies.contains(&pk) {
                    None
                } else {
                    n.policies.insert(pk);
                    Some(policy.clone())
                };
                NodeTaskKind::Price { policy }
            }
        };
        let msg = ToNode::Task(NodeTask {
            task_id,
            job_id: t.job.id.clone(),
            instrument: t.instrument,
            batch: t.batch,
            kind,
        });
        ok &= n.link.send(msg).is_ok();
        let slots = n.slots;
        let is_train = matches!(t.work, Work::Train { .. });
        self.queues.start(s, task_id, t);
        if self.queues.in_flight(s) >= slots {
            self.registry.mark_full(s);
        }
        if is_train {
            self.registry.set_owner(key, s);
        }
        self.stats.dispatched += 1;
        if !ok {
            self.lose_node(s, "link closed or full");
        }
    }

    fn on_result(&mut self, s: SessionId, task_id: u64, output: TaskOutput) {
        if !self.registry.contains(s) {
            self.stats.stale += 1;
            return;
        }
        let Some(t) = self.queues.finish(s, task_id) else {
            self.stats.stale += 1;
            return;
        };
        self.registry.touch(s);
        self.registry.mark_free(s);
        match check_output(&t, &output) {
            Ok(()) => {}
            Err(Fault::Node(breach)) => {
                // A node that sends malformed statistics is not trusted with more work.
                self.enqueue(t, true);
                self.stats.requeued += 1;
                self.lose_node(s, &breach.to_string());
                self.dispatch_all();
                return;
            }
            Err(Fault::Job(e)) => {
                // Any node would compute the same: the job fails, the node stays.
                let job = t.job.id.clone();
                self.deliver(&job, JobMsg::Failed { message: e.to_string() });
                self.dispatch_node(s);
                return;
            }
        }
        let Some(n) = self.registry.get_mut(s) else { return };
        n.tasks_done += 1;
        let node: Arc<str> = Arc::from(n.name.as_str());
        self.stats.accepted += 1;
        let msg = JobMsg::Result { instrument: t.instrument, batch: t.batch, round: t.work.round(), output, node };
        self.deliver(&t.job.id, msg);
        self.dispatch_node(s);
    }

    fn on_task_error(&mut self, s: SessionId, task_id: u64, kind: TaskErrorKind, message: String) {
        let Some(name) = self.registry.get_mut(s).map(|n| n.name.clone()) else { return };
        let Some(mut t) = self.queues.finish(s, task_id) else { return };
        self.registry.mark_free(s);
        match kind {
            TaskErrorKind::NeedState => {
                tracing::debug!(node = %name, task_id, %message, "node needs full state; resending");
                t.full = true;
                if self.jobs.contains_key(&t.job.id) {
                    self.enqueue(t, true);
                    self.stats.requeued += 1;
                }
            }
            TaskErrorKind::Cancelled => {}
            TaskErrorKind::Fatal => {
                tracing::warn!(node = %name, task_id, %message, "task failed");
                let job = t.job.id.clone();
                self.deliver(&job, JobMsg::Failed { message });
            }
        }
        self.dispatch_all();
    }

    /// The one "node lost" path: stream closed, heartbeat timeout, or misbehaviour.
    fn lose_node(&mut self, s: SessionId, reason: &str) {
        let running = self.queues.in_flight(s);
        let Some(n) = self.registry.remove(s) else { return };
        let tasks = self.queues.remove_node(s);
        self.stats.nodes_lost += 1;
        tracing::warn!(node = %n.name, session = s, reason, running, "node lost");
        for t in tasks.into_iter().rev() {
            if self.jobs.contains_key(&t.job.id) {
                self.stats.requeued += 1;
                // The owner is gone: the batch is rebuilt wherever it runs next.
                self.enqueue(t, true);
            }
        }
        // Closing its link ends the session, if it is still there.
        drop(n);
        self.dispatch_all();
    }

    fn check_heartbeats(&mut self) {
        for s in self.registry.late(self.heartbeat_timeout) {
            self.lose_node(s, "heartbeat timeout");
        }
    }

    fn job_finished(&mut self, job: &JobId) {
        self.jobs.remove(job);
        self.queues.remove_job(job);
        for s in self.registry.forget_job(job) {
            self.lose_node(s, "link closed or full");
        }
    }

    fn deliver(&mut self, job: &JobId, msg: JobMsg) {
        let Some(link) = self.jobs.get_mut(job) else { return };
        if !link.outbox.is_empty() {
            link.outbox.push_back(msg);
            return;
        }
        match link.tx.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => link.outbox.push_back(msg),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                let job = job.clone();
                self.job_finished(&job);
            }
        }
    }

    fn flush_outboxes(&mut self) {
        for link in self.jobs.values_mut() {
            while let Some(msg) = link.outbox.pop_front() {
                match link.tx.try_send(msg) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(msg)) => {
                        link.outbox.push_front(msg);
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        link.outbox.clear();
                        break;
                    }
                }
            }
        }
    }
}
