//! The node's state machine: job definitions, coefficients received so far, policies, and
//! the training batches it holds (under a byte budget). It turns a task into a closure for
//! the caller to run, and takes the batch back when the closure is done.
//!
//! It works on domain types (`pathgrid-protocol`) and does no I/O, so every kind of node
//! drives this one copy: a real node (the crate root) after converting its stream's
//! messages, and the coordinator's in-process virtual nodes, so that scheduler tests with
//! thousands of nodes run the code real nodes run.
//!
//! A training batch that is not in memory (evicted, or moved here from a lost node) is
//! rebuilt with [`TrainingBatch::rebuild`] from the stored coefficients, so the numbers
//! never depend on where or how often a batch was built.

use pathgrid_pricing::{Coefficients, ExercisePolicy, Job, JobSpec, Phase, Problem, TrainingBatch, price_batch};
use pathgrid_protocol::{JobId, NodeTask, NodeTaskKind, TaskErrorKind, TaskOutput};
use std::collections::HashMap;
use std::sync::Arc;

/// Why a task was not done: what the coordinator should do about it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub kind: TaskErrorKind,
    pub message: String,
}

impl TaskFailure {
    /// The node lacks state the coordinator can resend.
    pub fn need_state(message: impl Into<String>) -> Self {
        TaskFailure { kind: TaskErrorKind::NeedState, message: message.into() }
    }

    /// The task cannot succeed here or anywhere.
    pub fn fatal(message: impl Into<String>) -> Self {
        TaskFailure { kind: TaskErrorKind::Fatal, message: message.into() }
    }
}

type BatchKey = (JobId, u32, u64);

/// The output of a finished closure.
#[derive(Debug)]
pub struct Done {
    pub task_id: u64,
    pub job_id: JobId,
    pub result: Result<TaskOutput, TaskFailure>,
    /// The training batch, to keep for the next round.
    pub batch: Option<(BatchKey, TrainingBatch)>,
    pub micros: u64,
}

/// A task ready to run (on a blocking pool, or inline).
pub type Work = Box<dyn FnOnce() -> Done + Send + 'static>;

struct JobState {
    spec: JobSpec,
    job: Job,
    problems: HashMap<u32, Arc<Problem>>,
    /// Coefficients received per instrument and regression date.
    known: HashMap<u32, Vec<Option<Coefficients>>>,
    policies: HashMap<u32, Arc<ExercisePolicy>>,
}

impl JobState {
    fn problem(&mut self, instrument: u32) -> Result<Arc<Problem>, TaskFailure> {
        if let Some(p) = self.problems.get(&instrument) {
            return Ok(p.clone());
        }
        let p = Problem::new(&self.job, instrument as usize)
            .map_err(|_| TaskFailure::fatal(format!("task.instrument: {instrument} out of range")))?;
        let p = Arc::new(p);
        self.problems.insert(instrument, p.clone());
        Ok(p)
    }
}

/// Checks that a coefficient vector sent with a task fits the instrument's basis.
fn check_fit(beta: &Coefficients, basis: usize, field: impl FnOnce() -> String) -> Result<(), TaskFailure> {
    match beta {
        Some(b) if b.len() != basis => {
            Err(TaskFailure::fatal(format!("{}.values: has {} entries, the basis has {basis}", field(), b.len())))
        }
        _ => Ok(()),
    }
}

struct Cached {
    batch: TrainingBatch,
    bytes: usize,
    used: u64,
}

/// Node state owned by the node's session loop.
pub struct Worker {
    jobs: HashMap<JobId, JobState>,
    /// Jobs whose definition this node refused, with the reason: their tasks fail at once
    /// (asking for the definition again would get the same one, forever).
    refused: HashMap<JobId, String>,
    cache: HashMap<BatchKey, Cached>,
    cached_bytes: usize,
    budget: usize,
    clock: u64,
    /// Statistics: batches rebuilt because they were not in memory.
    pub rebuilds: u64,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("jobs", &self.jobs.len())
            .field("cached_batches", &self.cache.len())
            .field("cached_bytes", &self.cached_bytes)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Worker {
    /// A worker that keeps at most `budget` bytes of training batches.
    pub fn new(budget: usize) -> Self {
        Worker {
            jobs: HashMap::new(),
            refused: HashMap::new(),
            cache: HashMap::new(),
            cached_bytes: 0,
            budget,
            clock: 0,
            rebuilds: 0,
        }
    }

    pub fn cached_bytes(&self) -> usize {
        self.cached_bytes
    }

    /// Jobs this node holds state for.
    pub fn jobs(&self) -> usize {
        self.jobs.len()
    }

    pub fn knows_job(&self, job_id: &str) -> bool {
        self.jobs.contains_key(job_id)
    }

    /// Registers a job definition, validated here as well: bad input never runs. A spec
    /// that does not validate is refused (see [`Worker::refuse`]) and the reason returned.
    pub fn define(&mut self, job_id: &str, spec: JobSpec) -> Result<(), String> {
        if self.jobs.get(job_id).is_some_and(|j| j.spec == spec) {
            return Ok(());
        }
        match spec.validate() {
            Ok(job) => {
                self.install(job_id, spec, job);
                Ok(())
            }
            Err(e) => Err(self.refuse(job_id, e.to_string())),
        }
    }

    /// Registers a job its sender validated already (an in-process node shares the
    /// coordinator's memory, and its `Job`).
    pub fn define_validated(&mut self, job_id: &str, spec: &JobSpec, job: &Job) {
        if !self.jobs.get(job_id).is_some_and(|j| j.spec == *spec) {
            self.install(job_id, spec.clone(), job.clone());
        }
    }

    fn install(&mut self, job_id: &str, spec: JobSpec, job: Job) {
        self.forget(job_id);
        let state = JobState { spec, job, problems: HashMap::new(), known: HashMap::new(), policies: HashMap::new() };
        self.jobs.insert(Arc::from(job_id), state);
    }

    /// Refuses a job's definition: its tasks fail with `reason` until it is forgotten.
    /// Returns the reason.
    pub fn refuse(&mut self, job_id: &str, reason: String) -> String {
        self.forget(job_id);
        self.refused.insert(Arc::from(job_id), reason.clone());
        reason
    }

    /// Drops everything about a job.
    pub fn forget(&mut self, job_id: &str) {
        self.jobs.remove(job_id);
        self.refused.remove(job_id);
        let keys: Vec<BatchKey> = self.cache.keys().filter(|k| &*k.0 == job_id).cloned().collect();
        for k in keys {
            self.evict(&k);
        }
    }

    fn evict(&mut self, key: &BatchKey) {
        if let Some(c) = self.cache.remove(key) {
            self.cached_bytes -= c.bytes;
        }
    }

    /// Prepares a task: checks it against the node's state and returns the closure to run.
    pub fn prepare(&mut self, task: NodeTask) -> Result<Work, TaskFailure> {
        let NodeTask { task_id, job_id, instrument, batch, kind } = task;
        let Some(state) = self.jobs.get_mut(&job_id) else {
            return Err(match self.refused.get(&job_id) {
                Some(reason) => TaskFailure::fatal(format!("this node refused the job definition: {reason}")),
                None => TaskFailure::need_state(format!("unknown job {job_id}")),
            });
        };
        let problem = state.problem(instrument)?;
        let r = problem.regression_dates();
        let basis = problem.basis_len();
        match kind {
            NodeTaskKind::Train { date, coefficients } => {
                if date >= r {
                    return Err(TaskFailure::fatal(format!(
                        "task.training.date: {date} out of range (regression dates {r})"
                    )));
                }
                if batch >= problem.batches(Phase::Training) {
                    return Err(TaskFailure::fatal(format!("task.batch: {batch} out of range")));
                }
                let known = state.known.entry(instrument).or_insert_with(|| vec![None; r]);
                for (i, (k, beta)) in coefficients.into_iter().enumerate() {
                    if k <= date || k >= r {
                        return Err(TaskFailure::fatal(format!(
                            "task.training.coefficients[{i}].date: {k} out of range"
                        )));
                    }
                    check_fit(&beta, basis, || format!("task.training.coefficients[{i}]"))?;
                    known[k] = Some(beta);
                }
                let target = date + 1;
                let key: BatchKey = (job_id.clone(), instrument, batch);
                let cached = self.cache.remove(&key);
                if let Some(c) = &cached {
                    self.cached_bytes -= c.bytes;
                }
                let cached = cached.map(|c| c.batch).filter(|b| b.applied_from() >= target);
                let needed_to = cached.as_ref().map(|b| b.applied_from()).unwrap_or(r);
                let mut replay: Vec<Coefficients> = vec![None; r];
                for k in target..needed_to {
                    match &known[k] {
                        Some(beta) => replay[k] = beta.clone(),
                        None => {
                            return Err(TaskFailure::need_state(format!(
                                "instrument {instrument}: coefficients of date {k} unknown"
                            )));
                        }
                    }
                }
                if cached.is_none() {
                    self.rebuilds += u64::from(target < r);
                }
                Ok(Box::new(move || {
                    let start = std::time::Instant::now();
                    let run = || -> Result<(TrainingBatch, TaskOutput), pathgrid_pricing::Error> {
                        let mut tb = match cached {
                            Some(tb) => tb,
                            None => TrainingBatch::rebuild(&problem, batch, &replay, target)?,
                        };
                        for k in (target..tb.applied_from()).rev() {
                            tb.apply_exercise(&problem, k, replay[k].as_deref())?;
                        }
                        let stats = tb.regression_stats(&problem, date)?;
                        Ok((tb, TaskOutput::Regression(stats)))
                    };
                    let (result, batch) = match run() {
                        Ok((tb, output)) => (Ok(output), Some((key, tb))),
                        Err(e) => (Err(TaskFailure::fatal(e.to_string())), None),
                    };
                    Done { task_id, job_id, result, batch, micros: start.elapsed().as_micros() as u64 }
                }))
            }
            NodeTaskKind::Price { policy } => {
                if batch >= problem.batches(Phase::Pricing) {
                    return Err(TaskFailure::fatal(format!("task.batch: {batch} out of range")));
                }
                let policy = match policy {
                    Some(policy) => {
                        let field = "task.pricing.policy.coefficients";
                        if policy.coefficients.len() != r {
                            return Err(TaskFailure::fatal(format!(
                                "{field}: has {} dates, the instrument has {r}",
                                policy.coefficients.len()
                            )));
                        }
                        for (k, beta) in policy.coefficients.iter().enumerate() {
                            check_fit(beta, basis, || format!("{field}[{k}]"))?;
                        }
                        state.policies.insert(instrument, policy.clone());
                        // Training of this instrument is over: free its batches.
                        state.known.remove(&instrument);
                        let keys: Vec<BatchKey> =
                            self.cache.keys().filter(|k| k.0 == job_id && k.1 == instrument).cloned().collect();
                        for k in keys {
                            self.evict(&k);
                        }
                        policy
                    }
                    None => match state.policies.get(&instrument) {
                        Some(p) => p.clone(),
                        None => return Err(TaskFailure::need_state(format!("instrument {instrument}: no policy"))),
                    },
                };
                Ok(Box::new(move || {
                    let start = std::time::Instant::now();
                    let result = price_batch(&problem, batch, &policy)
                        .map(TaskOutput::Pricing)
                        .map_err(|e| TaskFailure::fatal(e.to_string()));
                    Done { task_id, job_id, result, batch: None, micros: start.elapsed().as_micros() as u64 }
                }))
            }
        }
    }

    /// Takes a training batch back after its task, evicting the least recently used
    /// batches while over the memory budget.
    pub fn keep(&mut self, key: BatchKey, batch: TrainingBatch) {
        if !self.jobs.contains_key(&key.0) {
            return;
        }
        let bytes = self
            .jobs
            .get(&key.0)
            .and_then(|j| j.problems.get(&key.1))
            .map(|p| p.training_batch_bytes(batch.len()))
            .unwrap_or(0);
        self.clock += 1;
        self.evict(&key);
        self.cache.insert(key.clone(), Cached { batch, bytes, used: self.clock });
        self.cached_bytes += bytes;
        while self.cached_bytes > self.budget {
            let victim =
                self.cache.iter().filter(|(k, _)| **k != key).min_by_key(|(_, c)| c.used).map(|(k, _)| k.clone());
            match victim {
                Some(v) => self.evict(&v),
                None => {
                    // This batch alone is over budget: rebuild it next time.
                    self.evict(&key);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use pathgrid_pricing::{PricingStats, RegressionStats, finish, parse_spec, price_instrument_sequential};

    fn task(task_id: u64, job_id: &str, instrument: u32, batch: u64, kind: NodeTaskKind) -> NodeTask {
        NodeTask { task_id, job_id: job_id.into(), instrument, batch, kind }
    }

    /// Drives a worker like the coordinator does (β_{k+1} only with each round), with a
    /// memory budget of `budget` bytes; returns the result and the number of rebuilds.
    fn drive(budget: usize) -> (pathgrid_pricing::LegResult, u64, pathgrid_pricing::LegResult) {
        let spec = parse_spec(
            r#"{ "name": "w", "seed": 5, "paths": 4000, "batch_size": 500, "instruments": [
              { "id": "p", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
                "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "american", "maturity": 1, "steps": 12 } } ] }"#,
        )
        .unwrap();
        let job = spec.validate().unwrap();
        let problem = Problem::new(&job, 0).unwrap();
        let mut w = Worker::new(budget);
        w.define("j", spec).unwrap();
        let r = problem.regression_dates();
        let mut solved: Vec<Coefficients> = vec![None; r];
        let mut id = 0;
        for date in (0..r).rev() {
            let mut merged = RegressionStats::new(problem.basis_len());
            for b in 0..problem.batches(Phase::Training) {
                id += 1;
                let coefficients = if date + 1 < r { vec![(date + 1, solved[date + 1].clone())] } else { vec![] };
                let done = w.prepare(task(id, "j", 0, b, NodeTaskKind::Train { date, coefficients })).unwrap()();
                if let Some((key, tb)) = done.batch {
                    w.keep(key, tb);
                }
                assert!(w.cached_bytes() <= budget);
                let Ok(TaskOutput::Regression(s)) = done.result else { panic!("no stats") };
                merged.merge(&s).unwrap();
            }
            solved[date] = merged.solve();
        }
        let policy = Arc::new(ExercisePolicy { coefficients: solved });
        let mut stats: Vec<PricingStats> = Vec::new();
        for b in 0..problem.batches(Phase::Pricing) {
            id += 1;
            let kind = NodeTaskKind::Price { policy: (b == 0).then(|| policy.clone()) };
            let Ok(TaskOutput::Pricing(s)) = w.prepare(task(id, "j", 0, b, kind)).unwrap()().result else {
                panic!("no stats")
            };
            stats.push(s);
        }
        (finish(&problem, &policy, &stats).unwrap(), w.rebuilds, price_instrument_sequential(&problem).unwrap())
    }

    #[test]
    fn batches_in_memory_match_the_reference() {
        let (got, rebuilds, want) = drive(1 << 30);
        assert_eq!(got, want);
        assert_eq!(rebuilds, 0);
    }

    #[test]
    fn zero_budget_rebuilds_every_round_and_still_matches() {
        let (got, rebuilds, want) = drive(0);
        assert_eq!(got, want);
        assert!(rebuilds > 0);
    }

    fn kind_of(r: Result<Work, TaskFailure>) -> Option<TaskErrorKind> {
        r.err().map(|f| f.kind)
    }

    #[test]
    fn missing_state_is_reported_not_guessed() {
        let mut w = Worker::new(1 << 20);
        let pricing = |job: &str| task(3, job, 0, 0, NodeTaskKind::Price { policy: None });
        assert_eq!(kind_of(w.prepare(pricing("nope"))), Some(TaskErrorKind::NeedState));
        let spec = parse_spec(
            r#"{ "name": "w", "paths": 100, "batch_size": 50, "instruments": [
              { "id": "p", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
                "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "american", "maturity": 1, "steps": 4 } } ] }"#,
        )
        .unwrap();
        w.define("j", spec.clone()).unwrap();
        // A round below the last without the coefficients it needs: ask for full state.
        let train = |date, instrument| task(2, "j", instrument, 0, NodeTaskKind::Train { date, coefficients: vec![] });
        assert_eq!(kind_of(w.prepare(train(1, 0))), Some(TaskErrorKind::NeedState));
        assert_eq!(kind_of(w.prepare(train(9, 0))), Some(TaskErrorKind::Fatal));
        assert_eq!(kind_of(w.prepare(train(2, 7))), Some(TaskErrorKind::Fatal));
        assert_eq!(kind_of(w.prepare(pricing("j"))), Some(TaskErrorKind::NeedState));
        // A bad job definition is refused, and its tasks fail rather than ask for it again.
        let mut bad = spec;
        bad.paths = 0;
        assert!(w.define("k", bad).is_err());
        let failure = w.prepare(pricing("k")).err().unwrap();
        assert_eq!(failure.kind, TaskErrorKind::Fatal);
        assert!(failure.message.contains("paths"), "{}", failure.message);
        w.forget("k");
        assert_eq!(kind_of(w.prepare(pricing("k"))), Some(TaskErrorKind::NeedState));
    }

    /// Coefficients of the wrong length for the instrument's basis fail the task and name
    /// the field; they are never applied.
    #[test]
    fn coefficients_that_do_not_fit_the_basis_are_refused() {
        let spec = parse_spec(
            r#"{ "name": "w", "paths": 100, "batch_size": 50, "instruments": [
              { "id": "p", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
                "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "american", "maturity": 1, "steps": 4 } } ] }"#,
        )
        .unwrap();
        let mut w = Worker::new(1 << 20);
        w.define("j", spec).unwrap();
        let wrong = vec![(2, Some(vec![1.0; 99]))];
        let failure =
            w.prepare(task(1, "j", 0, 0, NodeTaskKind::Train { date: 1, coefficients: wrong })).err().unwrap();
        assert_eq!(failure.kind, TaskErrorKind::Fatal);
        assert!(
            failure.message.starts_with("task.training.coefficients[0].values: has 99 entries"),
            "{}",
            failure.message
        );
        let short = Arc::new(ExercisePolicy { coefficients: vec![None] });
        let failure = w.prepare(task(2, "j", 0, 0, NodeTaskKind::Price { policy: Some(short) })).err().unwrap();
        assert!(failure.message.starts_with("task.pricing.policy.coefficients: has 1 dates"), "{}", failure.message);
    }
}
