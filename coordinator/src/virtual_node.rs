//! In-process virtual nodes attached through the [`NodeLink`](crate::protocol::NodeLink)
//! seam, without sockets: for unit tests (thousands of nodes, churn, heartbeat timeouts)
//! and for measuring the coordinator's own overhead.
//!
//! A virtual node runs the state machine real nodes run (`pathgrid_node::worker::Worker`:
//! batches, coefficients received, policies, rebuilds, asking for full state when it lacks
//! some), on the coordinator's domain messages instead of a gRPC stream, and computes on its
//! own tokio task. Only its failure modes (dying, hanging, answering without computing) are
//! its own.

use crate::cluster::Cluster;
use crate::protocol::{
    JobContext, JobId, NodeTask, NodeTaskKind, SessionId, TaskErrorKind, TaskOutput, ToNode, link_capacity,
};
use pathgrid_node::worker::{TaskFailure, Worker};
use pathgrid_pricing::{PricingStats, RegressionStats};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1 << 40);

/// How a virtual node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Computes every task for real with the pricing library.
    Compute,
    /// Answers with zero statistics of the right shape, without computing: isolates the
    /// coordinator's own cost per round.
    Stub,
    /// Answers with statistics of the right shape that claim `u64::MAX` samples, more than
    /// any batch has paths: a node the coordinator must drop.
    Overcount,
}

#[derive(Debug, Clone, Copy)]
pub struct VirtualNodeOptions {
    pub slots: u32,
    pub behaviour: Behaviour,
    /// After this many tasks the node's stream "closes" (reported lost at once).
    pub die_after: Option<u64>,
    /// After this many tasks the node hangs: no heartbeats, no results, until the
    /// coordinator declares it lost; then it delivers its last result late (must be ignored).
    pub hang_after: Option<u64>,
    pub heartbeat: Duration,
}

impl Default for VirtualNodeOptions {
    fn default() -> Self {
        VirtualNodeOptions {
            slots: 1,
            behaviour: Behaviour::Compute,
            die_after: None,
            hang_after: None,
            heartbeat: Duration::from_secs(1),
        }
    }
}

/// What a virtual node did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtualNodeReport {
    pub tasks: u64,
    pub rebuilds: u64,
    pub need_state: u64,
    pub died: bool,
}

/// Attaches a virtual node named `name` to `cluster`; the task ends when the node dies,
/// hangs out, or the cluster drops its link.
pub async fn spawn(cluster: &Cluster, name: String, opts: VirtualNodeOptions) -> JoinHandle<VirtualNodeReport> {
    let session = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(link_capacity(opts.slots as usize));
    let sched = cluster.scheduler().clone();
    sched.attach(session, name, opts.slots, "virtual".into(), Box::new(tx)).await;
    let node = VNode {
        session,
        sched,
        opts,
        jobs: HashMap::new(),
        // No memory budget: a virtual node keeps every batch it is given.
        worker: Worker::new(usize::MAX),
        report: VirtualNodeReport::default(),
    };
    tokio::spawn(node.run(rx))
}

struct VNode {
    session: SessionId,
    sched: crate::scheduler::SchedulerHandle,
    opts: VirtualNodeOptions,
    /// The jobs defined here, for the shape of answers given without computing.
    jobs: HashMap<JobId, Arc<JobContext>>,
    worker: Worker,
    report: VirtualNodeReport,
}

impl VNode {
    async fn run(mut self, mut rx: mpsc::Receiver<ToNode>) -> VirtualNodeReport {
        let mut tick = tokio::time::interval(self.opts.heartbeat);
        loop {
            tokio::select! {
                _ = tick.tick() => self.sched.heartbeat(self.session, Default::default()).await,
                msg = rx.recv() => {
                    let Some(msg) = msg else { return self.report() };
                    let ToNode::Task(task) = msg else {
                        match msg {
                            ToNode::Define(ctx) => {
                                self.worker.define_validated(&ctx.id, &ctx.spec, &ctx.job);
                                self.jobs.insert(ctx.id.clone(), ctx);
                            }
                            ToNode::Forget(id) => {
                                self.worker.forget(&id);
                                self.jobs.remove(&id);
                            }
                            ToNode::Task(_) => {}
                        }
                        continue;
                    };
                    self.report.tasks += 1;
                    let task_id = task.task_id;
                    let outcome = self.execute(task);
                    if self.opts.hang_after.is_some_and(|n| self.report.tasks > n) {
                        // Silent until the coordinator drops the link, then a late answer.
                        while rx.recv().await.is_some() {}
                        if let Ok(o) = outcome {
                            self.sched.result(self.session, task_id, o).await;
                        }
                        self.report.died = true;
                        return self.report();
                    }
                    if self.opts.die_after.is_some_and(|n| self.report.tasks > n) {
                        self.sched.lost(self.session, "virtual node died".into()).await;
                        self.report.died = true;
                        return self.report();
                    }
                    match outcome {
                        Ok(o) => self.sched.result(self.session, task_id, o).await,
                        Err(f) => {
                            if f.kind == TaskErrorKind::NeedState {
                                self.report.need_state += 1;
                            }
                            self.sched.task_error(self.session, task_id, f.kind, f.message).await
                        }
                    }
                }
            }
        }
    }

    /// What the node did so far (its rebuilds are the worker's count).
    fn report(&self) -> VirtualNodeReport {
        VirtualNodeReport { rebuilds: self.worker.rebuilds, ..self.report }
    }

    /// Runs a task through the worker, as a real node would, but inline.
    fn execute(&mut self, task: NodeTask) -> Result<TaskOutput, TaskFailure> {
        if self.opts.behaviour != Behaviour::Compute {
            return self.answer_without_computing(&task);
        }
        let done = self.worker.prepare(task)?();
        if let Some((key, batch)) = done.batch {
            self.worker.keep(key, batch);
        }
        done.result
    }

    /// Statistics of the right shape that were never computed: zero sums over one sample
    /// (`Stub`), or a claim of `u64::MAX` samples (`Overcount`).
    fn answer_without_computing(&self, task: &NodeTask) -> Result<TaskOutput, TaskFailure> {
        let ctx = self.jobs.get(&task.job_id).ok_or_else(|| TaskFailure::need_state("unknown job"))?;
        let problem =
            ctx.problems.get(task.instrument as usize).ok_or_else(|| TaskFailure::fatal("instrument out of range"))?;
        let samples = if self.opts.behaviour == Behaviour::Stub { 1 } else { u64::MAX };
        Ok(match task.kind {
            NodeTaskKind::Train { .. } => {
                let mut s = RegressionStats::new(problem.basis_len());
                s.count = samples;
                TaskOutput::Regression(s)
            }
            NodeTaskKind::Price { .. } => TaskOutput::Pricing(PricingStats { samples, ..PricingStats::default() }),
        })
    }
}
