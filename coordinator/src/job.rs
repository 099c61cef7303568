//! The job actor: one tokio task per job, owning its state machine
//! `Training(date) → Pricing → Done | Failed | Cancelled` for each instrument.
//!
//! Training: round `date` asks every training batch for its regression statistics at
//! `date` (after applying β_{date+1}); the statistics are merged **in batch order**, β_date
//! is solved and the next round starts. Pricing: every pricing batch is priced under the
//! full policy, the sums merged in batch order and turned into the result. Each batch
//! result is accepted once; duplicates and stale rounds are counted and dropped.

use crate::checkpoint::{CHECKPOINT_VERSION, Checkpoint, InstrumentCheckpoint, RunRecord};
use crate::checkpoint_store::CheckpointStore;
use crate::lease::{Acquire, Lease};
use crate::protocol::{JobContext, Round, TaskOutput, TaskSpec, Work};
use crate::scheduler::SchedulerHandle;
use pathgrid_pricing::{
    Coefficients, ExercisePolicy, JobResult, JobStats, JobStatus, LegResult, Phase as PassPhase, PricingStats,
    RegressionStats, combine, finish,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    Queued,
    Training,
    Pricing,
    Done,
    Failed,
    Cancelled,
}

impl JobPhase {
    pub fn is_terminal(self) -> bool {
        matches!(self, JobPhase::Done | JobPhase::Failed | JobPhase::Cancelled)
    }

    /// The status a job in this phase reports (in checkpoints, results and errors).
    pub fn status(self) -> JobStatus {
        match self {
            JobPhase::Queued => JobStatus::Queued,
            JobPhase::Training | JobPhase::Pricing => JobStatus::Running,
            JobPhase::Done => JobStatus::Succeeded,
            JobPhase::Failed => JobStatus::Failed,
            JobPhase::Cancelled => JobStatus::Cancelled,
        }
    }
}

/// A progress snapshot of a job; the terminal one carries the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub job_id: String,
    pub name: String,
    pub phase: JobPhase,
    /// Training: the regression date being collected (counting down to 0).
    pub date: Option<usize>,
    pub batches_done: u64,
    pub batches_total: u64,
    pub elapsed: Duration,
    pub eta: Option<Duration>,
    pub result: Option<JobResult>,
    /// Batch results accepted by this coordinator instance, per phase.
    pub training_tasks: u64,
    pub pricing_tasks: u64,
    pub error: Option<String>,
}

impl Progress {
    pub fn is_terminal(&self) -> bool {
        self.phase.is_terminal()
    }
}

pub(crate) enum JobMsg {
    Result { instrument: u32, batch: u64, round: Round, output: TaskOutput, node: Arc<str> },
    Failed { message: String },
    Cancel { reply: oneshot::Sender<bool> },
}

pub(crate) struct JobParams {
    pub ctx: Arc<JobContext>,
    pub restored: Option<Checkpoint>,
    pub sched: SchedulerHandle,
    pub store: Option<Arc<CheckpointStore>>,
    /// The job's lease when the registry took it already (a restored job); a new job's
    /// actor takes its own.
    pub lease: Option<Lease>,
    pub shutdown: CancellationToken,
    pub max_active_instruments: usize,
    pub checkpoint_interval: Duration,
    pub tracker: tokio_util::task::TaskTracker,
}

enum InstState {
    Waiting,
    Training { date: usize, stats: Vec<Option<RegressionStats>>, got: u64 },
    Pricing { policy: Arc<ExercisePolicy>, stats: Vec<Option<PricingStats>>, got: u64 },
    Done(Box<LegResult>),
}

struct Inst {
    solved_from: usize,
    solved: Vec<Coefficients>,
    restored_pricing: Vec<(u64, PricingStats)>,
    state: InstState,
}

struct JobActor {
    ctx: Arc<JobContext>,
    rx: mpsc::Receiver<JobMsg>,
    sched: SchedulerHandle,
    events: watch::Sender<Progress>,
    store: Option<Arc<CheckpointStore>>,
    /// Checkpoints are written only while this is held.
    lease: Option<Lease>,
    /// Earlier coordinators' shares of the job (from the checkpoint).
    previous_runs: Vec<RunRecord>,
    max_active: usize,
    checkpoint_interval: Duration,
    insts: Vec<Inst>,
    next_start: usize,
    active: usize,
    started: Instant,
    previous_elapsed: f64,
    done_at_start: u64,
    batches_done: u64,
    batches_total: u64,
    training_tasks: u64,
    pricing_tasks: u64,
    duplicates: u64,
    nodes: HashSet<Arc<str>>,
    phase: JobPhase,
    error: Option<String>,
    result: Option<JobResult>,
    last_save: Instant,
    dirty: bool,
}

/// Starts a job actor; returns its inbox and its progress feed.
pub(crate) fn spawn(p: JobParams) -> (mpsc::Sender<JobMsg>, watch::Receiver<Progress>) {
    let (tx, rx) = mpsc::channel(8192);
    let ctx = p.ctx;
    let insts = restored_insts(&ctx, p.restored.as_ref());
    let previous_elapsed = p.restored.as_ref().map_or(0.0, |cp| cp.elapsed_s);
    let previous_runs = p.restored.as_ref().map_or_else(Vec::new, |cp| cp.runs.clone());
    let (done, batches_total) = batch_counts(&ctx, &insts);
    let now = Instant::now();
    let initial = Progress {
        job_id: ctx.id.to_string(),
        name: ctx.spec.name.clone(),
        phase: JobPhase::Queued,
        date: None,
        batches_done: done,
        batches_total,
        elapsed: Duration::from_secs_f64(previous_elapsed),
        eta: None,
        result: None,
        training_tasks: 0,
        pricing_tasks: 0,
        error: None,
    };
    let (events, events_rx) = watch::channel(initial);
    let actor = JobActor {
        ctx,
        rx,
        sched: p.sched,
        events,
        store: p.store,
        lease: p.lease,
        previous_runs,
        max_active: p.max_active_instruments.max(1),
        checkpoint_interval: p.checkpoint_interval,
        insts,
        next_start: 0,
        active: 0,
        started: now,
        previous_elapsed,
        done_at_start: done,
        batches_done: done,
        batches_total,
        training_tasks: 0,
        pricing_tasks: 0,
        duplicates: 0,
        nodes: HashSet::new(),
        phase: JobPhase::Queued,
        error: None,
        result: None,
        last_save: now,
        dirty: false,
    };
    p.tracker.spawn(actor.run(tx.clone(), p.shutdown));
    (tx, events_rx)
}

/// The per-instrument state of a job: fresh, or as far as its checkpoint got.
fn restored_insts(ctx: &JobContext, restored: Option<&Checkpoint>) -> Vec<Inst> {
    let r_of = |i: usize| ctx.problems.get(i).map(|p| p.regression_dates()).unwrap_or(0);
    let mut insts: Vec<Inst> = (0..ctx.problems.len())
        .map(|i| Inst {
            solved_from: r_of(i),
            solved: vec![None; r_of(i)],
            restored_pricing: Vec::new(),
            state: InstState::Waiting,
        })
        .collect();
    if let Some(cp) = restored {
        for (inst, c) in insts.iter_mut().zip(&cp.instruments) {
            if c.solved.len() == inst.solved.len() && c.solved_from <= inst.solved.len() {
                inst.solved_from = c.solved_from;
                inst.solved = c.solved.clone();
                inst.restored_pricing = c.pricing.clone();
                if let Some(r) = &c.result {
                    inst.state = InstState::Done(Box::new(r.clone()));
                }
            }
        }
    }
    insts
}

/// (batches done, batches in all) over every round of every instrument.
fn batch_counts(ctx: &JobContext, insts: &[Inst]) -> (u64, u64) {
    let mut total = 0;
    let mut done = 0;
    for (problem, inst) in ctx.problems.iter().zip(insts) {
        let tb = problem.batches(PassPhase::Training);
        let pb = problem.batches(PassPhase::Pricing);
        let r = problem.regression_dates() as u64;
        total += r * tb + pb;
        match inst.state {
            InstState::Done(_) => done += r * tb + pb,
            _ => done += (r - inst.solved_from as u64) * tb + inst.restored_pricing.len() as u64,
        }
    }
    (done, total)
}

/// The progress of a job restored from a checkpoint that had already ended: its batch
/// counts are those the checkpoint shows, as for a job that resumes.
pub(crate) fn ended_progress(ctx: &JobContext, cp: Checkpoint, phase: JobPhase) -> Progress {
    let (batches_done, batches_total) = batch_counts(ctx, &restored_insts(ctx, Some(&cp)));
    Progress {
        job_id: cp.job_id.clone(),
        name: cp.spec.name.clone(),
        phase,
        date: None,
        batches_done,
        batches_total,
        elapsed: Duration::from_secs_f64(cp.elapsed_s.max(0.0)),
        eta: None,
        error: cp.result.as_ref().and_then(|r| r.error.clone()),
        result: cp.result,
        training_tasks: 0,
        pricing_tasks: 0,
    }
}

impl JobActor {
    async fn run(mut self, tx: mpsc::Sender<JobMsg>, shutdown: CancellationToken) {
        if !self.take_lease().await {
            self.publish();
            return;
        }
        self.sched.register_job(self.ctx.id.clone(), tx).await;
        self.save().await;
        self.fill_window().await;
        self.check_complete().await;
        self.publish();
        // Renewed at a third of its lifetime, so two renewals may fail before it lapses.
        let period = self.store.as_ref().map_or(Duration::from_secs(3600), |s| s.lease_ttl() / 3);
        let mut renew = tokio::time::interval_at(Instant::now() + period, period);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.phase.is_terminal() {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    // Keep everything finished so far for the next coordinator, and let it
                    // take the job at once.
                    self.save().await;
                    self.release_lease().await;
                    return;
                }
                _ = renew.tick(), if self.lease.is_some() => {
                    if !self.renew_lease().await {
                        return;
                    }
                }
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.handle(msg).await,
                    None => return,
                },
            }
        }
        self.sched.job_finished(self.ctx.id.clone()).await;
        self.save().await;
        self.release_lease().await;
        self.publish();
        tracing::info!(job = %self.ctx.id, phase = ?self.phase, duplicates = self.duplicates, "job finished");
    }

    /// A new job takes its lease here (a restored one arrives with it). False when another
    /// coordinator holds it: then this one must not run the job.
    async fn take_lease(&mut self) -> bool {
        let Some(store) = self.store.clone() else { return true };
        if self.lease.is_some() {
            return true;
        }
        match store.acquire(&self.ctx.id).await {
            Ok(Acquire::Taken(lease)) => {
                self.lease = Some(lease);
                true
            }
            Ok(Acquire::Held { holder, .. }) => {
                self.fail(format!("job id {} is held by coordinator {holder}", self.ctx.id));
                false
            }
            Err(e) => {
                // The store is unreachable: run in memory; the result still reaches the client.
                tracing::warn!(job = %self.ctx.id, error = %e, "no lease taken; this job is not checkpointed");
                true
            }
        }
    }

    /// False when the lease is lost: another coordinator runs the job now, so this one stops
    /// without writing anything more.
    async fn renew_lease(&mut self) -> bool {
        let (Some(store), Some(lease)) = (self.store.clone(), self.lease.as_mut()) else { return true };
        match store.renew(lease).await {
            Ok(true) => true,
            Err(e) => {
                tracing::warn!(job = %self.ctx.id, error = %e, "lease renewal failed; will retry");
                true
            }
            Ok(false) => {
                self.lease = None;
                tracing::error!(job = %self.ctx.id, "lease lost: another coordinator runs this job now; stopping it here");
                self.fail("lease lost to another coordinator, which runs this job now".into());
                self.sched.job_finished(self.ctx.id.clone()).await;
                self.publish();
                false
            }
        }
    }

    async fn release_lease(&mut self) {
        if let (Some(store), Some(lease)) = (self.store.clone(), self.lease.take()) {
            store.release(lease).await;
        }
    }

    async fn handle(&mut self, msg: JobMsg) {
        match msg {
            JobMsg::Result { instrument, batch, round, output, node } => {
                self.on_result(instrument as usize, batch, round, output, node).await;
            }
            JobMsg::Failed { message } => self.fail(message),
            JobMsg::Cancel { reply } => {
                let ok = !self.phase.is_terminal();
                if ok {
                    self.phase = JobPhase::Cancelled;
                    self.error = Some("cancelled".into());
                    self.result = Some(self.job_result(JobStatus::Cancelled, Vec::new()));
                }
                let _ = reply.send(ok);
            }
        }
    }

    fn fail(&mut self, message: String) {
        if self.phase.is_terminal() {
            return;
        }
        tracing::warn!(job = %self.ctx.id, %message, "job failed");
        self.phase = JobPhase::Failed;
        self.error = Some(message);
        self.result = Some(self.job_result(JobStatus::Failed, Vec::new()));
    }

    fn fail_non_finite(&mut self, i: usize, what: &'static str) {
        let instrument = self.ctx.problems[i].instrument.id.clone();
        self.fail(crate::error::Error::NonFinite { instrument, what }.to_string());
    }

    /// Starts instruments until `max_active` are in flight.
    async fn fill_window(&mut self) {
        while self.active < self.max_active && self.next_start < self.insts.len() && !self.phase.is_terminal() {
            let i = self.next_start;
            self.next_start += 1;
            if matches!(self.insts[i].state, InstState::Done(_)) {
                continue;
            }
            self.active += 1;
            if self.insts[i].solved_from == 0 {
                if self.start_pricing(i).await {
                    self.complete_pricing(i);
                }
            } else {
                let date = self.insts[i].solved_from - 1;
                self.start_training_round(i, date).await;
            }
        }
    }

    async fn start_training_round(&mut self, i: usize, date: usize) {
        let problem = &self.ctx.problems[i];
        let batches = problem.batches(PassPhase::Training);
        let solved = Arc::new(self.insts[i].solved.clone());
        let tasks = (0..batches)
            .map(|batch| TaskSpec {
                job: self.ctx.clone(),
                instrument: i as u32,
                batch,
                work: Work::Train { date, solved: solved.clone() },
                full: false,
            })
            .collect();
        self.insts[i].state = InstState::Training { date, stats: vec![None; batches as usize], got: 0 };
        self.phase = JobPhase::Training;
        self.sched.enqueue(self.ctx.id.clone(), tasks).await;
    }

    /// Queues the missing pricing batches; true when none are missing (restored).
    async fn start_pricing(&mut self, i: usize) -> bool {
        let problem = &self.ctx.problems[i];
        let batches = problem.batches(PassPhase::Pricing);
        let policy = Arc::new(ExercisePolicy { coefficients: self.insts[i].solved.clone() });
        let mut stats = vec![None; batches as usize];
        let mut got = 0;
        for (b, s) in std::mem::take(&mut self.insts[i].restored_pricing) {
            if let Some(slot @ None) = stats.get_mut(b as usize) {
                *slot = Some(s);
                got += 1;
            }
        }
        let tasks: Vec<TaskSpec> = (0..batches)
            .filter(|&b| stats[b as usize].is_none())
            .map(|batch| TaskSpec {
                job: self.ctx.clone(),
                instrument: i as u32,
                batch,
                work: Work::Price { policy: policy.clone() },
                full: false,
            })
            .collect();
        self.insts[i].state = InstState::Pricing { policy, stats, got };
        if tasks.is_empty() {
            return true;
        }
        self.sched.enqueue(self.ctx.id.clone(), tasks).await;
        false
    }

    async fn on_result(&mut self, i: usize, batch: u64, round: Round, output: TaskOutput, node: Arc<str>) {
        if self.phase.is_terminal() {
            return;
        }
        let Some(inst) = self.insts.get_mut(i) else { return };
        let b = batch as usize;
        let complete = match (&mut inst.state, round, output) {
            (InstState::Training { date, stats, got }, Round::Train(d), TaskOutput::Regression(s)) if *date == d => {
                match stats.get_mut(b) {
                    Some(slot @ None) => {
                        *slot = Some(s);
                        *got += 1;
                        self.training_tasks += 1;
                    }
                    _ => {
                        self.duplicates += 1;
                        return;
                    }
                }
                *got == stats.len() as u64
            }
            (InstState::Pricing { stats, got, .. }, Round::Price, TaskOutput::Pricing(s)) => {
                match stats.get_mut(b) {
                    Some(slot @ None) => {
                        *slot = Some(s);
                        *got += 1;
                        self.pricing_tasks += 1;
                        self.dirty = true;
                    }
                    _ => {
                        self.duplicates += 1;
                        return;
                    }
                }
                *got == stats.len() as u64
            }
            _ => {
                self.duplicates += 1;
                return;
            }
        };
        self.batches_done += 1;
        if !self.nodes.contains(&node) {
            self.nodes.insert(node);
        }
        if complete {
            match self.insts[i].state {
                InstState::Training { .. } => self.finish_training_round(i).await,
                InstState::Pricing { .. } => self.finish_pricing(i).await,
                _ => {}
            }
        } else if self.dirty && self.last_save.elapsed() >= self.checkpoint_interval {
            self.save().await;
        }
        self.publish();
    }

    async fn finish_training_round(&mut self, i: usize) {
        let basis = self.ctx.problems[i].basis_len();
        let InstState::Training { date, stats, .. } = std::mem::replace(&mut self.insts[i].state, InstState::Waiting)
        else {
            return;
        };
        let mut merged = RegressionStats::new(basis);
        for s in stats.iter().flatten() {
            if let Err(e) = merged.merge(s) {
                return self.fail(format!("instrument {i}: {e}"));
            }
        }
        // Finite batches can still sum to infinity, and a solve can overflow: either way
        // the policy would be garbage, so the job says so instead of pricing with it.
        if !merged.is_finite() {
            return self.fail_non_finite(i, "the merged training statistics");
        }
        let beta = merged.solve();
        if beta.as_ref().is_some_and(|b| b.iter().any(|x| !x.is_finite())) {
            return self.fail_non_finite(i, "the regression coefficients");
        }
        let inst = &mut self.insts[i];
        inst.solved[date] = beta;
        inst.solved_from = date;
        self.dirty = true;
        if date == 0 {
            // Phase boundary: the policy is complete; pricing never needs training again.
            self.save().await;
            if self.start_pricing(i).await {
                self.finish_pricing(i).await;
            }
        } else {
            if self.last_save.elapsed() >= self.checkpoint_interval {
                self.save().await;
            }
            self.start_training_round(i, date - 1).await;
        }
    }

    async fn finish_pricing(&mut self, i: usize) {
        self.complete_pricing(i);
        self.fill_window().await;
        self.check_complete().await;
        if !self.phase.is_terminal() {
            self.save().await;
        }
    }

    /// Merges the pricing sums of instrument `i` in batch order and finishes it.
    fn complete_pricing(&mut self, i: usize) {
        let InstState::Pricing { policy, stats, .. } = std::mem::replace(&mut self.insts[i].state, InstState::Waiting)
        else {
            return;
        };
        let batches: Vec<PricingStats> = stats.iter().flatten().copied().collect();
        match finish(&self.ctx.problems[i], &policy, &batches) {
            Ok(r) if !r.result.is_finite() => return self.fail_non_finite(i, "the results"),
            Ok(r) => self.insts[i].state = InstState::Done(Box::new(r)),
            Err(e) => return self.fail(format!("instrument {i}: {e}")),
        }
        self.active = self.active.saturating_sub(1);
        self.dirty = true;
    }

    async fn check_complete(&mut self) {
        if self.phase.is_terminal() {
            return;
        }
        let legs: Option<Vec<LegResult>> = self
            .insts
            .iter()
            .map(|inst| match &inst.state {
                InstState::Done(r) => Some(r.as_ref().clone()),
                _ => None,
            })
            .collect();
        if let Some(legs) = legs {
            let results = match combine(&self.ctx.job, &legs) {
                Ok(r) => r,
                Err(e) => return self.fail(format!("combining the legs: {e}")),
            };
            if let Some(r) = results.iter().find(|r| !r.is_finite()) {
                let instrument = r.id.clone();
                return self.fail(crate::error::Error::NonFinite { instrument, what: "the results" }.to_string());
            }
            self.phase = JobPhase::Done;
            self.result = Some(self.job_result(JobStatus::Succeeded, results));
        } else if !self.insts.iter().any(|i| matches!(i.state, InstState::Training { .. })) {
            self.phase = JobPhase::Pricing;
        }
    }

    fn elapsed_s(&self) -> f64 {
        self.previous_elapsed + self.started.elapsed().as_secs_f64()
    }

    fn job_result(&self, status: JobStatus, results: Vec<pathgrid_pricing::InstrumentResult>) -> JobResult {
        let s = &self.ctx.job.settings;
        let batches =
            self.ctx.problems.iter().map(|p| p.batches(PassPhase::Training) + p.batches(PassPhase::Pricing)).sum();
        JobResult {
            job_id: self.ctx.id.to_string(),
            name: self.ctx.spec.name.clone(),
            status,
            results,
            stats: JobStats {
                paths: s.paths,
                training_paths: s.training_paths,
                path_steps: self.ctx.job.path_steps(),
                elapsed_s: self.elapsed_s(),
                nodes: self.nodes.len() as u32,
                batches,
                seed: s.seed,
            },
            error: self.error.clone(),
        }
    }

    fn current_date(&self) -> Option<usize> {
        self.insts.iter().find_map(|i| match i.state {
            InstState::Training { date, .. } => Some(date),
            _ => None,
        })
    }

    fn publish(&mut self) {
        if !self.phase.is_terminal() {
            let training = self.insts.iter().any(|i| matches!(i.state, InstState::Training { .. }));
            self.phase = if training { JobPhase::Training } else { JobPhase::Pricing };
        }
        let run = self.started.elapsed();
        let here = self.batches_done - self.done_at_start;
        let eta = (here > 0 && !self.phase.is_terminal()).then(|| {
            let remaining = self.batches_total.saturating_sub(self.batches_done) as f64;
            Duration::from_secs_f64(run.as_secs_f64() / here as f64 * remaining)
        });
        let p = Progress {
            job_id: self.ctx.id.to_string(),
            name: self.ctx.spec.name.clone(),
            phase: self.phase,
            date: self.current_date(),
            batches_done: self.batches_done,
            batches_total: self.batches_total,
            elapsed: Duration::from_secs_f64(self.elapsed_s()),
            eta,
            result: self.result.clone(),
            training_tasks: self.training_tasks,
            pricing_tasks: self.pricing_tasks,
            error: self.error.clone(),
        };
        self.events.send_replace(p);
    }

    fn checkpoint(&self) -> Checkpoint {
        let status = self.phase.status();
        Checkpoint {
            version: CHECKPOINT_VERSION,
            job_id: self.ctx.id.to_string(),
            spec: self.ctx.spec.clone(),
            status,
            elapsed_s: self.elapsed_s(),
            instruments: self
                .insts
                .iter()
                .map(|inst| InstrumentCheckpoint {
                    solved_from: inst.solved_from,
                    solved: inst.solved.clone(),
                    pricing: match &inst.state {
                        InstState::Pricing { stats, .. } => {
                            stats.iter().enumerate().filter_map(|(b, s)| s.map(|s| (b as u64, s))).collect()
                        }
                        _ => inst.restored_pricing.clone(),
                    },
                    result: match &inst.state {
                        InstState::Done(r) => Some(r.as_ref().clone()),
                        _ => None,
                    },
                })
                .collect(),
            result: self.result.clone(),
            runs: self
                .previous_runs
                .iter()
                .cloned()
                .chain(self.store.as_ref().map(|s| RunRecord {
                    owner: s.owner().to_string(),
                    training_tasks: self.training_tasks,
                    pricing_tasks: self.pricing_tasks,
                }))
                .collect(),
        }
    }

    async fn save(&mut self) {
        self.last_save = Instant::now();
        self.dirty = false;
        let Some(store) = self.store.clone() else { return };
        // Without the lease another coordinator may own the job: never overwrite its state.
        if self.lease.as_ref().is_none_or(Lease::expired) {
            return;
        }
        let cp = self.checkpoint();
        if let Err(e) = store.save(&cp).await {
            tracing::warn!(job = %self.ctx.id, error = %e, "checkpoint not written");
        }
    }
}
