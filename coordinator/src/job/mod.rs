//! The job actor: one tokio task per job. It does the I/O for the job's legs — queueing
//! their batches with the scheduler, checkpoints, the lease, progress — while each leg's
//! decisions (`Training(date) → Pricing → Done`) are made by the pure state machine in
//! [`leg`]. The job as a whole ends `Succeeded | Failed | Cancelled`.

mod lease_keeping;
mod leg;
mod options_done;

use crate::checkpoint::{CHECKPOINT_VERSION, Checkpoint, RunRecord};
use crate::checkpoint_store::CheckpointStore;
use crate::lease::Lease;
use crate::protocol::{JobContext, Round, TaskOutput, TaskSpec, Work};
use crate::scheduler::SchedulerHandle;
use leg::{Action, Event, Leg};
use options_done::OptionsDone;
use pathgrid_pricing::{LegResult, Phase as PassPhase, combine};
use pathgrid_protocol::{JobPhase, JobResult, JobStats, Progress};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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
    legs: Vec<Leg>,
    options: OptionsDone,
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
    let legs = restored_legs(&ctx, p.restored.as_ref());
    let previous_elapsed = p.restored.as_ref().map_or(0.0, |cp| cp.elapsed_s);
    let previous_runs = p.restored.as_ref().map_or_else(Vec::new, |cp| cp.runs.clone());
    let (done, batches_total) = batch_counts(&ctx, &legs);
    let options = OptionsDone::new(&ctx.job, |i| legs.get(i).is_some_and(Leg::is_done));
    let now = Instant::now();
    let initial = Progress {
        job_id: ctx.id.to_string(),
        name: ctx.spec.name.clone(),
        phase: JobPhase::Queued,
        date: None,
        batches_done: done,
        batches_total,
        instruments_done: options.done(),
        instruments_total: options.total(),
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
        legs,
        options,
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

/// The legs of a job: fresh, or as far as its checkpoint got.
fn restored_legs(ctx: &JobContext, restored: Option<&Checkpoint>) -> Vec<Leg> {
    let mut legs: Vec<Leg> = ctx.problems.iter().enumerate().map(|(i, p)| Leg::new(i, p)).collect();
    if let Some(cp) = restored {
        for (leg, c) in legs.iter_mut().zip(&cp.instruments) {
            leg.restore(c);
        }
    }
    legs
}

/// (batches done, batches in all) over every round of every leg.
fn batch_counts(ctx: &JobContext, legs: &[Leg]) -> (u64, u64) {
    let mut total = 0;
    let mut done = 0;
    for (problem, leg) in ctx.problems.iter().zip(legs) {
        let r = problem.regression_dates() as u64;
        total += r * problem.batches(PassPhase::Training) + problem.batches(PassPhase::Pricing);
        done += leg.batches_done(problem);
    }
    (done, total)
}

/// The progress of a job restored from a checkpoint that had already ended: its batch
/// counts are those the checkpoint shows, as for a job that resumes.
pub(crate) fn ended_progress(ctx: &JobContext, cp: Checkpoint, phase: JobPhase) -> Progress {
    let legs = restored_legs(ctx, Some(&cp));
    let (batches_done, batches_total) = batch_counts(ctx, &legs);
    let options = OptionsDone::new(&ctx.job, |i| legs.get(i).is_some_and(Leg::is_done));
    Progress {
        job_id: cp.job_id.clone(),
        name: cp.spec.name.clone(),
        phase,
        date: None,
        batches_done,
        batches_total,
        instruments_done: options.done(),
        instruments_total: options.total(),
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
                    self.result = Some(self.job_result(JobPhase::Cancelled, Vec::new()));
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
        self.result = Some(self.job_result(JobPhase::Failed, Vec::new()));
    }

    /// Starts legs until `max_active` are in flight.
    async fn fill_window(&mut self) {
        while self.active < self.max_active && self.next_start < self.legs.len() && !self.phase.is_terminal() {
            let i = self.next_start;
            self.next_start += 1;
            if self.legs[i].is_done() {
                continue;
            }
            self.active += 1;
            // A leg finished from its checkpoint alone is only counted here: the caller
            // checks for completion once the window is full.
            for action in self.step(i, Event::Start) {
                match action {
                    Action::Run { work, batches } => self.enqueue(i, work, batches).await,
                    Action::Finished => self.leg_finished(),
                    Action::Failed(message) => self.fail(message),
                    Action::Accepted(_) | Action::Duplicate | Action::Solved { .. } => {}
                }
            }
        }
    }

    fn step(&mut self, i: usize, event: Event) -> Vec<Action> {
        match (self.legs.get_mut(i), self.ctx.problems.get(i)) {
            (Some(leg), Some(problem)) => leg.step(problem, event),
            _ => Vec::new(),
        }
    }

    /// Queues `batches` of leg `i` with the scheduler.
    async fn enqueue(&mut self, i: usize, work: Work, batches: Vec<u64>) {
        let tasks = batches
            .into_iter()
            .map(|batch| TaskSpec {
                job: self.ctx.clone(),
                instrument: i as u32,
                batch,
                work: work.clone(),
                full: false,
            })
            .collect();
        if matches!(work, Work::Train { .. }) {
            self.phase = JobPhase::Training;
        }
        self.sched.enqueue(self.ctx.id.clone(), tasks).await;
    }

    fn leg_finished(&mut self) {
        self.active = self.active.saturating_sub(1);
        self.dirty = true;
    }

    async fn on_result(&mut self, i: usize, batch: u64, round: Round, output: TaskOutput, node: Arc<str>) {
        if self.phase.is_terminal() || i >= self.legs.len() {
            return;
        }
        let mut completed = false;
        for action in self.step(i, Event::Result { batch, round, output }) {
            match action {
                Action::Duplicate => {
                    self.duplicates += 1;
                    return;
                }
                Action::Accepted(phase) => {
                    match phase {
                        PassPhase::Training => self.training_tasks += 1,
                        PassPhase::Pricing => {
                            self.pricing_tasks += 1;
                            self.dirty = true;
                        }
                    }
                    self.batches_done += 1;
                    if !self.nodes.contains(&node) {
                        self.nodes.insert(node.clone());
                    }
                }
                Action::Solved { date } => {
                    completed = true;
                    self.round_solved(i, date).await;
                }
                Action::Finished => {
                    completed = true;
                    self.options.leg_finished(i);
                    self.finish_leg().await;
                }
                Action::Failed(message) => {
                    completed = true;
                    self.fail(message);
                }
                Action::Run { .. } => {}
            }
        }
        if !completed && self.dirty && self.last_save.elapsed() >= self.checkpoint_interval {
            self.save().await;
        }
        self.publish();
    }

    /// β of leg `i` at `date` is solved: checkpoint, then start the leg's next round.
    async fn round_solved(&mut self, i: usize, date: usize) {
        self.dirty = true;
        // At date 0 the policy is complete, a phase boundary: pricing never needs training
        // again, so that is always saved.
        if date == 0 || self.last_save.elapsed() >= self.checkpoint_interval {
            self.save().await;
        }
        for action in self.step(i, Event::Start) {
            match action {
                Action::Run { work, batches } => self.enqueue(i, work, batches).await,
                Action::Finished => self.finish_leg().await,
                Action::Failed(message) => self.fail(message),
                Action::Accepted(_) | Action::Duplicate | Action::Solved { .. } => {}
            }
        }
    }

    /// A leg finished: start the next ones, and see whether the job is complete.
    async fn finish_leg(&mut self) {
        self.leg_finished();
        self.fill_window().await;
        self.check_complete().await;
        if !self.phase.is_terminal() {
            self.save().await;
        }
    }

    async fn check_complete(&mut self) {
        if self.phase.is_terminal() {
            return;
        }
        let legs: Option<Vec<LegResult>> = self.legs.iter().map(|leg| leg.result().cloned()).collect();
        if let Some(legs) = legs {
            let results = match combine(&self.ctx.job, &legs) {
                Ok(r) => r,
                Err(e) => return self.fail(format!("combining the legs: {e}")),
            };
            if let Some(r) = results.iter().find(|r| !r.is_finite()) {
                let instrument = r.id.clone();
                return self.fail(crate::error::Error::NonFinite { instrument, what: "the results" }.to_string());
            }
            self.phase = JobPhase::Succeeded;
            self.result = Some(self.job_result(JobPhase::Succeeded, results));
        } else if !self.legs.iter().any(|leg| leg.training_date().is_some()) {
            self.phase = JobPhase::Pricing;
        }
    }

    fn elapsed_s(&self) -> f64 {
        self.previous_elapsed + self.started.elapsed().as_secs_f64()
    }

    fn job_result(&self, status: JobPhase, results: Vec<pathgrid_pricing::InstrumentResult>) -> JobResult {
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
        self.legs.iter().find_map(Leg::training_date)
    }

    fn publish(&mut self) {
        if !self.phase.is_terminal() {
            let training = self.legs.iter().any(|leg| leg.training_date().is_some());
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
            instruments_done: self.options.done(),
            instruments_total: self.options.total(),
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
        Checkpoint {
            version: CHECKPOINT_VERSION,
            job_id: self.ctx.id.to_string(),
            spec: self.ctx.spec.clone(),
            status: self.phase,
            elapsed_s: self.elapsed_s(),
            instruments: self.legs.iter().map(Leg::checkpoint).collect(),
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
