//! In-process virtual nodes attached through the [`NodeLink`](crate::protocol::NodeLink)
//! seam, without sockets: for unit tests (thousands of nodes, churn, heartbeat timeouts)
//! and for measuring the coordinator's own overhead.
//!
//! A virtual node keeps the same state as a real one (batches, coefficients received,
//! policies) and follows the same protocol: it rebuilds batches it does not hold and asks
//! for full state when it lacks coefficients.

use crate::cluster::Cluster;
use crate::protocol::{JobContext, JobId, NodeTaskKind, SessionId, TaskErrorKind, TaskOutput, ToNode, link_capacity};
use pathgrid_pricing::{Coefficients, ExercisePolicy, PricingStats, RegressionStats, TrainingBatch, price_batch};
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
        batches: HashMap::new(),
        known: HashMap::new(),
        policies: HashMap::new(),
        report: VirtualNodeReport::default(),
    };
    tokio::spawn(node.run(rx))
}

struct VNode {
    session: SessionId,
    sched: crate::scheduler::SchedulerHandle,
    opts: VirtualNodeOptions,
    jobs: HashMap<JobId, Arc<JobContext>>,
    batches: HashMap<(JobId, u32, u64), TrainingBatch>,
    known: HashMap<(JobId, u32), Vec<Option<Coefficients>>>,
    policies: HashMap<(JobId, u32), Arc<ExercisePolicy>>,
    report: VirtualNodeReport,
}

enum Outcome {
    Output(TaskOutput),
    Error(TaskErrorKind, String),
}

impl VNode {
    async fn run(mut self, mut rx: mpsc::Receiver<ToNode>) -> VirtualNodeReport {
        let mut tick = tokio::time::interval(self.opts.heartbeat);
        loop {
            tokio::select! {
                _ = tick.tick() => self.sched.heartbeat(self.session, Default::default()).await,
                msg = rx.recv() => {
                    let Some(msg) = msg else { return self.report };
                    let ToNode::Task(task) = msg else {
                        match msg {
                            ToNode::Define(ctx) => { self.jobs.insert(ctx.id.clone(), ctx); }
                            ToNode::Forget(id) => {
                                self.jobs.remove(&id);
                                self.batches.retain(|k, _| k.0 != id);
                                self.known.retain(|k, _| k.0 != id);
                                self.policies.retain(|k, _| k.0 != id);
                            }
                            ToNode::Task(_) => {}
                        }
                        continue;
                    };
                    self.report.tasks += 1;
                    let outcome = self.execute(&task.job_id, task.instrument, task.batch, task.kind);
                    if self.opts.hang_after.is_some_and(|n| self.report.tasks > n) {
                        // Silent until the coordinator drops the link, then a late answer.
                        while rx.recv().await.is_some() {}
                        if let Outcome::Output(o) = outcome {
                            self.sched.result(self.session, task.task_id, o).await;
                        }
                        self.report.died = true;
                        return self.report;
                    }
                    if self.opts.die_after.is_some_and(|n| self.report.tasks > n) {
                        self.sched.lost(self.session, "virtual node died".into()).await;
                        self.report.died = true;
                        return self.report;
                    }
                    match outcome {
                        Outcome::Output(o) => self.sched.result(self.session, task.task_id, o).await,
                        Outcome::Error(kind, m) => {
                            if kind == TaskErrorKind::NeedState {
                                self.report.need_state += 1;
                            }
                            self.sched.task_error(self.session, task.task_id, kind, m).await
                        }
                    }
                }
            }
        }
    }

    fn execute(&mut self, job_id: &JobId, instrument: u32, batch: u64, kind: NodeTaskKind) -> Outcome {
        let Some(ctx) = self.jobs.get(job_id).cloned() else {
            return Outcome::Error(TaskErrorKind::NeedState, "unknown job".into());
        };
        let Some(problem) = ctx.problems.get(instrument as usize) else {
            return Outcome::Error(TaskErrorKind::Fatal, "instrument out of range".into());
        };
        let r = problem.regression_dates();
        match kind {
            NodeTaskKind::Train { date, coefficients } => {
                if self.opts.behaviour != Behaviour::Compute {
                    let mut s = RegressionStats::new(problem.basis_len());
                    s.count = if self.opts.behaviour == Behaviour::Stub { 1 } else { u64::MAX };
                    return Outcome::Output(TaskOutput::Regression(s));
                }
                let known = self.known.entry((job_id.clone(), instrument)).or_insert_with(|| vec![None; r]);
                for (k, c) in coefficients {
                    if let Some(slot) = known.get_mut(k) {
                        *slot = Some(c);
                    }
                }
                let target = date + 1;
                let key = (job_id.clone(), instrument, batch);
                let cached = self.batches.remove(&key).filter(|b| b.applied_from() >= target);
                let upto = cached.as_ref().map(|b| b.applied_from()).unwrap_or(r);
                let mut replay = vec![None; r];
                for k in target..upto {
                    match &known[k] {
                        Some(c) => replay[k] = c.clone(),
                        None => return Outcome::Error(TaskErrorKind::NeedState, format!("date {k} unknown")),
                    }
                }
                let tb = match cached {
                    Some(tb) => Ok(tb),
                    None => {
                        if target < r {
                            self.report.rebuilds += 1;
                        }
                        TrainingBatch::rebuild(problem, batch, &replay, target)
                    }
                };
                let run = |mut tb: TrainingBatch| -> Result<(TrainingBatch, RegressionStats), pathgrid_pricing::Error> {
                    for k in (target..tb.applied_from()).rev() {
                        tb.apply_exercise(problem, k, replay[k].as_deref())?;
                    }
                    let s = tb.regression_stats(problem, date)?;
                    Ok((tb, s))
                };
                match tb.and_then(run) {
                    Ok((tb, s)) => {
                        self.batches.insert(key, tb);
                        Outcome::Output(TaskOutput::Regression(s))
                    }
                    Err(e) => Outcome::Error(TaskErrorKind::Fatal, e.to_string()),
                }
            }
            NodeTaskKind::Price { policy } => {
                if self.opts.behaviour != Behaviour::Compute {
                    let samples = if self.opts.behaviour == Behaviour::Stub { 1 } else { u64::MAX };
                    return Outcome::Output(TaskOutput::Pricing(PricingStats { samples, ..PricingStats::default() }));
                }
                let pk = (job_id.clone(), instrument);
                let policy = match policy {
                    Some(p) => {
                        self.policies.insert(pk.clone(), p.clone());
                        self.batches.retain(|k, _| !(k.0 == pk.0 && k.1 == pk.1));
                        p
                    }
                    None => match self.policies.get(&pk) {
                        Some(p) => p.clone(),
                        None => return Outcome::Error(TaskErrorKind::NeedState, "no policy".into()),
                    },
                };
                match price_batch(problem, batch, &policy) {
                    Ok(s) => Outcome::Output(TaskOutput::Pricing(s)),
                    Err(e) => Outcome::Error(TaskErrorKind::Fatal, e.to_string()),
                }
            }
        }
    }
}
