//! The in-process cluster core without any networking: scheduler + job registry actors.
//!
//! [`Cluster`] is what the gRPC services call, and what tests drive directly through the
//! [`crate::protocol::NodeLink`] seam with virtual nodes.

use crate::checkpoint::Checkpoint;
use crate::checkpoint_store::CheckpointStore;
use crate::config::CoordinatorConfig;
use crate::error::Error;
use crate::job::{self, JobMsg, JobParams};
use crate::lease::{Acquire, Lease};
use crate::protocol::{JobContext, JobId};
use crate::scheduler::{self, SchedulerHandle};
use pathgrid_pricing::JobSpec;
use pathgrid_protocol::{NodeInfo, Progress};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Finished jobs kept for `Get`/`Watch`, oldest dropped first.
const RETAINED_JOBS: usize = 10_000;

enum RegMsg {
    Submit { ctx: Arc<JobContext>, reply: oneshot::Sender<()> },
    Watch { id: String, reply: oneshot::Sender<Option<watch::Receiver<Progress>>> },
    Cancel { id: String, reply: oneshot::Sender<Option<mpsc::Sender<JobMsg>>> },
    List { reply: oneshot::Sender<Vec<Progress>> },
}

/// Handle to a running cluster core. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cluster {
    sched: SchedulerHandle,
    reg: mpsc::Sender<RegMsg>,
    /// Numbers the job ids this coordinator hands out.
    submitted: Arc<AtomicU64>,
    max_message_bytes: usize,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for RegMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegMsg")
    }
}

impl Cluster {
    /// Starts the actors and resumes the unfinished jobs found in the checkpoint store.
    /// Everything stops when `shutdown` fires; [`Cluster::stopped`] waits for that.
    pub async fn start(config: &CoordinatorConfig, shutdown: CancellationToken) -> Result<Cluster, Error> {
        let tracker = TaskTracker::new();
        let (sched, sched_join) = scheduler::spawn(config.heartbeat_timeout, config.pipeline_depth, shutdown.clone());
        tracker.spawn(async move {
            let _ = sched_join.await;
        });
        let restored = match &config.store {
            Some(store) => take_restored(store).await?,
            None => Vec::new(),
        };
        let (tx, rx) = mpsc::channel(256);
        let mut reg = Registry {
            rx,
            jobs: HashMap::new(),
            order: Vec::new(),
            sched: sched.clone(),
            store: config.store.clone(),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
            max_active_instruments: config.max_active_instruments,
            checkpoint_interval: config.checkpoint_interval,
        };
        for (cp, lease) in restored {
            reg.restore(cp, lease);
        }
        tracker.spawn(reg.run());
        let submitted = Arc::new(AtomicU64::new(0));
        Ok(Cluster { sched, reg: tx, submitted, max_message_bytes: config.max_message_bytes, tracker, shutdown })
    }

    /// The scheduler: nodes attach through it (the test seam).
    pub fn scheduler(&self) -> &SchedulerHandle {
        &self.sched
    }

    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    async fn ask<T>(&self, msg: impl FnOnce(oneshot::Sender<T>) -> RegMsg) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.reg.send(msg(reply)).await.map_err(|_| Error::ShuttingDown)?;
        rx.await.map_err(|_| Error::ShuttingDown)
    }

    /// Validates and starts a job; returns its id.
    pub async fn submit(&self, spec: JobSpec) -> Result<String, Error> {
        let id = self.new_id(&spec.name);
        let max = self.max_message_bytes;
        // Validating a book and preparing its legs is CPU work that grows with the book: it
        // runs on the blocking pool, so a big submit never stalls the registry or the runtime.
        let prepare = move || -> Result<JobContext, Error> {
            let job = spec.validate()?;
            crate::session::check_deliverable(&id, &spec, max)?;
            Ok(JobContext::new(JobId::from(id.as_str()), spec, job))
        };
        let ctx = Arc::new(tokio::task::spawn_blocking(prepare).await.map_err(Error::Task)??);
        let id = ctx.id.to_string();
        self.ask(|reply| RegMsg::Submit { ctx, reply }).await?;
        tracing::info!(job = %id, "job submitted");
        Ok(id)
    }

    /// A new job id: the job's name made safe, the time, and a counter.
    fn new_id(&self, name: &str) -> String {
        let n = self.submitted.fetch_add(1, Ordering::Relaxed) + 1;
        let clean = pathgrid_store::safe_name(name, 48);
        let millis =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        format!("{clean}-{millis:x}-{n}")
    }

    /// The job's progress feed; the last value is terminal and carries the result.
    pub async fn watch(&self, id: &str) -> Result<watch::Receiver<Progress>, Error> {
        self.ask(|reply| RegMsg::Watch { id: id.to_string(), reply })
            .await?
            .ok_or_else(|| Error::UnknownJob(id.to_string()))
    }

    pub async fn get(&self, id: &str) -> Result<Progress, Error> {
        Ok(self.watch(id).await?.borrow().clone())
    }

    /// Cancels a job; false when it had already finished.
    pub async fn cancel(&self, id: &str) -> Result<bool, Error> {
        let tx = self
            .ask(|reply| RegMsg::Cancel { id: id.to_string(), reply })
            .await?
            .ok_or_else(|| Error::UnknownJob(id.to_string()))?;
        let (reply, rx) = oneshot::channel();
        if tx.send(JobMsg::Cancel { reply }).await.is_err() {
            return Ok(false);
        }
        Ok(rx.await.unwrap_or(false))
    }

    pub async fn list_jobs(&self) -> Result<Vec<Progress>, Error> {
        self.ask(|reply| RegMsg::List { reply }).await
    }

    pub async fn list_nodes(&self) -> Vec<NodeInfo> {
        self.sched.list_nodes().await
    }

    /// Waits for a job to reach a terminal state and returns the last snapshot.
    pub async fn wait(&self, id: &str, mut progress: impl FnMut(&Progress)) -> Result<Progress, Error> {
        let mut rx = self.watch(id).await?;
        loop {
            let p = rx.borrow_and_update().clone();
            progress(&p);
            if p.is_terminal() {
                return Ok(p);
            }
            if rx.changed().await.is_err() {
                return Err(Error::ShuttingDown);
            }
        }
    }

    /// Waits until every actor (scheduler, registry, jobs) has stopped after shutdown,
    /// so their last checkpoints are written.
    pub async fn stopped(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

struct Entry {
    tx: Option<mpsc::Sender<JobMsg>>,
    events: watch::Receiver<Progress>,
}

struct Registry {
    rx: mpsc::Receiver<RegMsg>,
    jobs: HashMap<String, Entry>,
    order: Vec<String>,
    sched: SchedulerHandle,
    store: Option<Arc<CheckpointStore>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    max_active_instruments: usize,
    checkpoint_interval: Duration,
}

impl Registry {
    async fn run(mut self) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => break,
                },
            }
        }
    }

    fn handle(&mut self, msg: RegMsg) {
        match msg {
            RegMsg::Submit { ctx, reply } => {
                self.spawn_job(ctx, None, None);
                let _ = reply.send(());
            }
            RegMsg::Watch { id, reply } => {
                let _ = reply.send(self.jobs.get(&id).map(|e| e.events.clone()));
            }
            RegMsg::Cancel { id, reply } => {
                let _ = reply.send(self.jobs.get(&id).and_then(|e| e.tx.clone()));
            }
            RegMsg::List { reply } => {
                let list =
                    self.order.iter().filter_map(|id| self.jobs.get(id)).map(|e| e.events.borrow().clone()).collect();
                let _ = reply.send(list);
            }
        }
    }

    fn spawn_job(&mut self, ctx: Arc<JobContext>, restored: Option<Checkpoint>, lease: Option<Lease>) {
        let id = ctx.id.to_string();
        let (tx, events) = job::spawn(JobParams {
            ctx,
            restored,
            sched: self.sched.clone(),
            store: self.store.clone(),
            lease,
            shutdown: self.shutdown.clone(),
            max_active_instruments: self.max_active_instruments,
            checkpoint_interval: self.checkpoint_interval,
            tracker: self.tracker.clone(),
        });
        self.insert(id, Entry { tx: Some(tx), events });
    }

    fn insert(&mut self, id: String, entry: Entry) {
        self.order.push(id.clone());
        self.jobs.insert(id, entry);
        if self.order.len() > RETAINED_JOBS {
            let jobs = &self.jobs;
            if let Some(pos) =
                self.order.iter().position(|id| jobs.get(id).is_none_or(|e| e.events.borrow().is_terminal()))
            {
                let old = self.order.remove(pos);
                self.jobs.remove(&old);
            }
        }
    }

    /// Resumes an unfinished job (whose lease was taken), or keeps a finished one visible.
    fn restore(&mut self, cp: Checkpoint, lease: Option<Lease>) {
        let job = match cp.spec.validate() {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(job = %cp.job_id, error = %e, "checkpoint has an invalid spec; skipped");
                return;
            }
        };
        if self.jobs.contains_key(&cp.job_id) {
            return;
        }
        match cp.status {
            status if !status.is_terminal() => {
                tracing::info!(job = %cp.job_id, "resuming job from checkpoint");
                let ctx = Arc::new(JobContext::new(JobId::from(cp.job_id.as_str()), cp.spec.clone(), job));
                self.spawn_job(ctx, Some(cp), lease);
            }
            phase => {
                let ctx = JobContext::new(JobId::from(cp.job_id.as_str()), cp.spec.clone(), job);
                let id = cp.job_id.clone();
                let (_tx, events) = watch::channel(job::ended_progress(&ctx, cp, phase));
                self.insert(id, Entry { tx: None, events });
            }
        }
    }
}

/// The store's verified checkpoints this coordinator may show or resume: finished jobs, and
/// unfinished ones whose lease it took. A job whose lease another live coordinator holds is
/// left to that coordinator.
async fn take_restored(store: &CheckpointStore) -> Result<Vec<(Checkpoint, Option<Lease>)>, Error> {
    let mut out = Vec::new();
    for cp in store.load_all().await? {
        if cp.status.is_terminal() {
            out.push((cp, None));
            continue;
        }
        match store.acquire(&cp.job_id).await {
            Ok(Acquire::Taken(lease)) => out.push((cp, Some(lease))),
            Ok(Acquire::Held { holder, expires_unix_ms }) => {
                tracing::info!(job = %cp.job_id, %holder, expires_unix_ms, "job is leased by another coordinator; left to it");
            }
            Err(e) => tracing::warn!(job = %cp.job_id, error = %e, "could not take the job's lease; not resumed"),
        }
    }
    Ok(out)
}
