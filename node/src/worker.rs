//! The node's state: job definitions, coefficients received so far, policies, and the
//! training batches it holds (under a byte budget). Turns a task into a closure for the
//! blocking pool, and takes the batch back when the closure is done.
//!
//! A training batch that is not in memory (evicted, or moved here from a lost node) is
//! rebuilt with [`TrainingBatch::rebuild`] from the stored coefficients, so the numbers
//! never depend on where or how often a batch was built.

use pathgrid_pricing::{Coefficients, ExercisePolicy, Job, JobSpec, Phase, Problem, TrainingBatch, price_batch};
use pathgrid_proto::convert;
use pathgrid_proto::v1;
use std::collections::HashMap;
use std::sync::Arc;

/// Why a task was not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFailure {
    NeedState(String),
    Fatal(String),
}

impl TaskFailure {
    pub fn to_proto(&self, task_id: u64) -> v1::TaskError {
        let (code, message) = match self {
            TaskFailure::NeedState(m) => (v1::TaskErrorCode::NeedState, m),
            TaskFailure::Fatal(m) => (v1::TaskErrorCode::Fatal, m),
        };
        v1::TaskError { task_id, code: code as i32, message: message.clone() }
    }
}

type BatchKey = (Arc<str>, u32, u64);

/// The output of a finished closure.
#[derive(Debug)]
pub struct Done {
    pub task_id: u64,
    pub job_id: Arc<str>,
    pub result: Result<v1::task_result::Stats, TaskFailure>,
    /// The training batch, to keep for the next round.
    pub batch: Option<(BatchKey, TrainingBatch)>,
    pub micros: u64,
}

/// A task ready to run on the blocking pool.
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
            .map_err(|_| TaskFailure::Fatal(format!("task.instrument: {instrument} out of range")))?;
        let p = Arc::new(p);
        self.problems.insert(instrument, p.clone());
        Ok(p)
    }
}

struct Cached {
    batch: TrainingBatch,
    bytes: usize,
    used: u64,
}

/// Node state owned by the node's session loop.
pub struct Worker {
    jobs: HashMap<Arc<str>, JobState>,
    /// Jobs whose definition this node refused, with the reason: their tasks fail at once
    /// (asking for the definition again would get the same one, forever).
    refused: HashMap<Arc<str>, String>,
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

    /// Registers a job definition (validated here as well: bad input never runs).
    pub fn define(&mut self, def: &v1::JobDefinition) -> Result<(), String> {
        let id: Arc<str> = Arc::from(def.job_id.as_str());
        let parsed = def
            .spec
            .as_ref()
            .ok_or_else(|| "job.spec: missing".to_string())
            .and_then(|spec| convert::spec_from_proto(spec).map_err(|e| format!("job.spec.{e}")));
        let spec = match parsed {
            Ok(spec) => spec,
            Err(e) => return Err(self.refuse(id, e)),
        };
        if self.jobs.get(&id).is_some_and(|j| j.spec == spec) {
            return Ok(());
        }
        let job = match spec.validate() {
            Ok(job) => job,
            Err(e) => return Err(self.refuse(id, e.to_string())),
        };
        self.forget(&id);
        self.jobs.insert(
            id,
            JobState { spec, job, problems: HashMap::new(), known: HashMap::new(), policies: HashMap::new() },
        );
        Ok(())
    }

    fn refuse(&mut self, id: Arc<str>, reason: String) -> String {
        self.forget(&id);
        self.refused.insert(id, reason.clone());
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
    pub fn prepare(&mut self, task: &v1::Task) -> Result<Work, TaskFailure> {
        let fatal = |m: String| TaskFailure::Fatal(m);
        let job_id: Arc<str> = match self.jobs.get_key_value(task.job_id.as_str()) {
            Some((k, _)) => k.clone(),
            None => {
                return Err(match self.refused.get(task.job_id.as_str()) {
                    Some(reason) => fatal(format!("this node refused the job definition: {reason}")),
                    None => TaskFailure::NeedState(format!("unknown job {}", task.job_id)),
                });
            }
        };
        let task_id = task.task_id;
        let batch = task.batch;
        let instrument = task.instrument;
        let Some(state) = self.jobs.get_mut(&job_id) else {
            return Err(TaskFailure::NeedState(format!("unknown job {}", task.job_id)));
        };
        let problem = state.problem(instrument)?;
        let r = problem.regression_dates();
        let basis = problem.basis_len();
        match &task.kind {
            None => Err(fatal("task.kind: missing".into())),
            Some(v1::task::Kind::Training(t)) => {
                let date = t.date as usize;
                if date >= r {
                    return Err(fatal(format!("task.training.date: {date} out of range (regression dates {r})")));
                }
                if batch >= problem.batches(Phase::Training) {
                    return Err(fatal(format!("task.batch: {batch} out of range")));
                }
                let known = state.known.entry(instrument).or_insert_with(|| vec![None; r]);
                for (i, c) in t.coefficients.iter().enumerate() {
                    let (k, beta) =
                        convert::coefficients_from_proto(c, basis, &format!("task.training.coefficients[{i}]"))
                            .map_err(|e| fatal(e.to_string()))?;
                    if k <= date || k >= r {
                        return Err(fatal(format!("task.training.coefficients[{i}].date: {k} out of range")));
                    }
                    known[k] = Some(beta);
                }
                let target = date + 1;
                let key: BatchKey = (job_id.clone(), instrument, batch);
                let cached = self.cache.remove(&key);
                if let Some(c) = &cached {
                    self.cached_bytes -= c.bytes;
                }
                let cached = cached.map(|c| c.batch).filter(|b| b.applied_from() >= target);
                let needed_from = target;
                let needed_to = cached.as_ref().map(|b| b.applied_from()).unwrap_or(r);
                let mut replay: Vec<Coefficients> = vec![None; r];
                for k in needed_from..needed_to {
                    match &known[k] {
                        Some(beta) => replay[k] = beta.clone(),
                        None => {
                            return Err(TaskFailure::NeedState(format!(
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
                    let run = || -> Result<(TrainingBatch, v1::task_result::Stats), pathgrid_pricing::Error> {
                        let mut tb = match cached {
                            Some(tb) => tb,
                            None => TrainingBatch::rebuild(&problem, batch, &replay, target)?,
                        };
                        for k in (target..tb.applied_from()).rev() {
                            tb.apply_exercise(&problem, k, replay[k].as_deref())?;
                        }
                        let stats = tb.regression_stats(&problem, date)?;
                        Ok((tb, v1::task_result::Stats::Regression(convert::regression_to_proto(&stats))))
                    };
                    let (result, batch) = match run() {
                        Ok((tb, stats)) => (Ok(stats), Some((key, tb))),
                        Err(e) => (Err(TaskFailure::Fatal(e.to_string())), None),
                    };
                    Done { task_id, job_id, result, batch, micros: start.elapsed().as_micros() as u64 }
                }))
            }
            Some(v1::task::Kind::Pricing(p)) => {
                if batch >= problem.batches(Phase::Pricing) {
                    return Err(fatal(format!("task.batch: {batch} out of range")));
                }
                let policy = match &p.policy {
                    Some(policy) => {
                        let policy = convert::policy_from_proto(policy, r, basis, "task.pricing.policy")
                            .map_err(|e| fatal(e.to_string()))?;
                        let policy = Arc::new(policy);
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
                        None => return Err(TaskFailure::NeedState(format!("instrument {instrument}: no policy"))),
                    },
                };
                Ok(Box::new(move || {
                    let start = std::time::Instant::now();
                    let result = price_batch(&problem, batch, &policy)
                        .map(|s| v1::task_result::Stats::Pricing(convert::pricing_to_proto(&s)))
                        .map_err(|e| TaskFailure::Fatal(e.to_string()));
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
        w.define(&v1::JobDefinition { job_id: "j".into(), spec: Some(convert::spec_to_proto(&spec)) }).unwrap();
        let r = problem.regression_dates();
        let mut solved: Vec<Coefficients> = vec![None; r];
        let mut id = 0;
        for date in (0..r).rev() {
            let mut merged = RegressionStats::new(problem.basis_len());
            for b in 0..problem.batches(Phase::Training) {
                id += 1;
                let coefficients = if date + 1 < r {
                    vec![convert::coefficients_to_proto(date + 1, &solved[date + 1])]
                } else {
                    vec![]
                };
                let task = v1::Task {
                    task_id: id,
                    job_id: "j".into(),
                    instrument: 0,
                    batch: b,
                    kind: Some(v1::task::Kind::Training(v1::TrainingTask { date: date as u32, coefficients })),
                };
                let done = w.prepare(&task).unwrap()();
                if let Some((key, tb)) = done.batch {
                    w.keep(key, tb);
                }
                assert!(w.cached_bytes() <= budget);
                let Ok(v1::task_result::Stats::Regression(s)) = done.result else { panic!("no stats") };
                merged.merge(&convert::regression_from_proto(&s, problem.basis_len(), "s").unwrap()).unwrap();
            }
            solved[date] = merged.solve();
        }
        let policy = ExercisePolicy { coefficients: solved };
        let mut stats: Vec<PricingStats> = Vec::new();
        for b in 0..problem.batches(Phase::Pricing) {
            id += 1;
            let task = v1::Task {
                task_id: id,
                job_id: "j".into(),
                instrument: 0,
                batch: b,
                kind: Some(v1::task::Kind::Pricing(v1::PricingTask {
                    policy: (b == 0).then(|| convert::policy_to_proto(&policy)),
                })),
            };
            let Ok(v1::task_result::Stats::Pricing(s)) = w.prepare(&task).unwrap()().result else { panic!("no stats") };
            stats.push(convert::pricing_from_proto(&s, "s").unwrap());
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

    #[test]
    fn missing_state_is_reported_not_guessed() {
        let mut w = Worker::new(1 << 20);
        let task = v1::Task { task_id: 1, job_id: "nope".into(), instrument: 0, batch: 0, kind: None };
        assert!(matches!(w.prepare(&task), Err(TaskFailure::NeedState(_))));
        let spec = parse_spec(
            r#"{ "name": "w", "paths": 100, "batch_size": 50, "instruments": [
              { "id": "p", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
                "payoff": { "type": "put", "strike": 40 }, "exercise": { "style": "american", "maturity": 1, "steps": 4 } } ] }"#,
        )
        .unwrap();
        w.define(&v1::JobDefinition { job_id: "j".into(), spec: Some(convert::spec_to_proto(&spec)) }).unwrap();
        // A round below the last without the coefficients it needs: ask for full state.
        let train = |date: u32, instrument: u32| v1::Task {
            task_id: 2,
            job_id: "j".into(),
            instrument,
            batch: 0,
            kind: Some(v1::task::Kind::Training(v1::TrainingTask { date, coefficients: vec![] })),
        };
        assert!(matches!(w.prepare(&train(1, 0)), Err(TaskFailure::NeedState(_))));
        assert!(matches!(w.prepare(&train(9, 0)), Err(TaskFailure::Fatal(_))));
        assert!(matches!(w.prepare(&train(2, 7)), Err(TaskFailure::Fatal(_))));
        let pricing = v1::Task {
            task_id: 3,
            job_id: "j".into(),
            instrument: 0,
            batch: 0,
            kind: Some(v1::task::Kind::Pricing(v1::PricingTask { policy: None })),
        };
        assert!(matches!(w.prepare(&pricing), Err(TaskFailure::NeedState(_))));
        // A bad job definition is refused, and its tasks fail rather than ask for it again.
        let mut bad = convert::spec_to_proto(&spec);
        bad.paths = 0;
        assert!(w.define(&v1::JobDefinition { job_id: "k".into(), spec: Some(bad) }).is_err());
        let task = v1::Task { job_id: "k".into(), ..pricing.clone() };
        assert!(matches!(w.prepare(&task), Err(TaskFailure::Fatal(m)) if m.contains("paths")));
        w.forget("k");
        assert!(matches!(w.prepare(&task), Err(TaskFailure::NeedState(_))));
    }
}
