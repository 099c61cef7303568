//! One leg's state machine, without I/O, channels or clocks:
//! `Waiting → Training(date) → … → Training(0) → Pricing → Done`.
//!
//! The job actor ([`super`]) feeds it [`Event`]s (start, a batch result arrived) and
//! carries out the [`Action`]s it returns (queue these batches, count this result,
//! checkpoint, the leg is finished or the job failed). Keeping the decisions here, apart
//! from the actor's I/O, lets tests drive a leg through every transition directly.
//!
//! Training: round `date` asks every training batch for its regression statistics at
//! `date` (after applying β_{date+1}); the statistics are merged **in batch order**, β_date
//! is solved and the next round starts. Pricing: every pricing batch is priced under the
//! full policy, the sums merged in batch order and turned into the result. Each batch
//! result is accepted once; duplicates and stale rounds are reported and dropped.

use crate::checkpoint::InstrumentCheckpoint;
use crate::protocol::{Round, TaskOutput, Work};
use pathgrid_pricing::{
    Coefficients, ExercisePolicy, LegResult, Phase, PricingStats, Problem, RegressionStats, finish,
};
use std::sync::Arc;

/// What happens to a leg.
#[derive(Debug)]
pub(crate) enum Event {
    /// Start (or continue with) the next round: the first training round, the training
    /// round after a solved one, or pricing once the policy is complete.
    Start,
    /// A node's output for `batch` in `round` arrived.
    Result { batch: u64, round: Round, output: TaskOutput },
}

/// What the actor has to do, in order.
#[derive(Debug)]
pub(crate) enum Action {
    /// Queue these batches of the leg, all with the same work.
    Run { work: Work, batches: Vec<u64> },
    /// A batch result was taken (counted once per batch and round).
    Accepted(Phase),
    /// A batch result was dropped: a duplicate, a stale round or the wrong kind.
    Duplicate,
    /// β for `date` is solved. The actor checkpoints (always at `date` 0: the policy is
    /// complete) and then sends [`Event::Start`] for the next round.
    Solved { date: usize },
    /// The leg's result is ready ([`Leg::result`]).
    Finished,
    /// The job fails with this message.
    Failed(String),
}

enum State {
    Waiting,
    Training { date: usize, stats: Vec<Option<RegressionStats>>, got: u64 },
    Pricing { policy: Arc<ExercisePolicy>, stats: Vec<Option<PricingStats>>, got: u64 },
    Done(Box<LegResult>),
}

/// One leg (instrument) of a job.
pub(crate) struct Leg {
    /// Position in the job, as the tasks and messages name it.
    index: usize,
    /// β is solved for every date ≥ `solved_from`; 0 means the policy is complete.
    solved_from: usize,
    solved: Vec<Coefficients>,
    /// Pricing sums from a checkpoint, taken up when pricing starts.
    restored_pricing: Vec<(u64, PricingStats)>,
    state: State,
}

impl Leg {
    /// A leg with nothing done yet.
    pub fn new(index: usize, problem: &Problem) -> Self {
        let r = problem.regression_dates();
        Leg { index, solved_from: r, solved: vec![None; r], restored_pricing: Vec::new(), state: State::Waiting }
    }

    /// Takes up what a checkpoint saved of this leg, when it fits the leg's shape (a
    /// checkpoint that does not is ignored and the leg starts afresh).
    pub fn restore(&mut self, c: &InstrumentCheckpoint) {
        if c.solved.len() == self.solved.len() && c.solved_from <= self.solved.len() {
            self.solved_from = c.solved_from;
            self.solved = c.solved.clone();
            self.restored_pricing = c.pricing.clone();
            if let Some(r) = &c.result {
                self.state = State::Done(Box::new(r.clone()));
            }
        }
    }

    /// What a checkpoint keeps of this leg now.
    pub fn checkpoint(&self) -> InstrumentCheckpoint {
        InstrumentCheckpoint {
            solved_from: self.solved_from,
            solved: self.solved.clone(),
            pricing: match &self.state {
                State::Pricing { stats, .. } => {
                    stats.iter().enumerate().filter_map(|(b, s)| s.map(|s| (b as u64, s))).collect()
                }
                _ => self.restored_pricing.clone(),
            },
            result: self.result().cloned(),
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done(_))
    }

    pub fn result(&self) -> Option<&LegResult> {
        match &self.state {
            State::Done(r) => Some(r),
            _ => None,
        }
    }

    /// The date of the training round under way, if one is.
    pub fn training_date(&self) -> Option<usize> {
        match self.state {
            State::Training { date, .. } => Some(date),
            _ => None,
        }
    }

    /// Batch results this leg holds already, of `total` over all its rounds.
    pub fn batches_done(&self, problem: &Problem) -> u64 {
        let tb = problem.batches(Phase::Training);
        let pb = problem.batches(Phase::Pricing);
        let r = problem.regression_dates() as u64;
        match self.state {
            State::Done(_) => r * tb + pb,
            _ => (r - self.solved_from as u64) * tb + self.restored_pricing.len() as u64,
        }
    }

    /// Feeds one event; returns what the actor must do, in order.
    pub fn step(&mut self, problem: &Problem, event: Event) -> Vec<Action> {
        match event {
            Event::Start => self.start(problem),
            Event::Result { batch, round, output } => self.on_result(problem, batch, round, output),
        }
    }

    fn start(&mut self, problem: &Problem) -> Vec<Action> {
        if self.is_done() {
            return Vec::new();
        }
        if self.solved_from > 0 {
            return vec![self.start_training_round(problem, self.solved_from - 1)];
        }
        match self.start_pricing(problem) {
            Some(run) => vec![run],
            // Every pricing batch came from the checkpoint.
            None => vec![self.complete_pricing(problem)],
        }
    }

    fn start_training_round(&mut self, problem: &Problem, date: usize) -> Action {
        let batches = problem.batches(Phase::Training);
        let solved = Arc::new(self.solved.clone());
        self.state = State::Training { date, stats: vec![None; batches as usize], got: 0 };
        Action::Run { work: Work::Train { date, solved }, batches: (0..batches).collect() }
    }

    /// Queues the missing pricing batches; `None` when none are missing (restored).
    fn start_pricing(&mut self, problem: &Problem) -> Option<Action> {
        let batches = problem.batches(Phase::Pricing);
        let policy = Arc::new(ExercisePolicy { coefficients: self.solved.clone() });
        let mut stats = vec![None; batches as usize];
        let mut got = 0;
        for (b, s) in std::mem::take(&mut self.restored_pricing) {
            if let Some(slot @ None) = stats.get_mut(b as usize) {
                *slot = Some(s);
                got += 1;
            }
        }
        let missing: Vec<u64> = (0..batches).filter(|&b| stats[b as usize].is_none()).collect();
        self.state = State::Pricing { policy: policy.clone(), stats, got };
        (!missing.is_empty()).then_some(Action::Run { work: Work::Price { policy }, batches: missing })
    }

    fn on_result(&mut self, problem: &Problem, batch: u64, round: Round, output: TaskOutput) -> Vec<Action> {
        let b = batch as usize;
        let (phase, complete) = match (&mut self.state, round, output) {
            (State::Training { date, stats, got }, Round::Train(d), TaskOutput::Regression(s)) if *date == d => {
                match stats.get_mut(b) {
                    Some(slot @ None) => *slot = Some(s),
                    _ => return vec![Action::Duplicate],
                }
                *got += 1;
                (Phase::Training, *got == stats.len() as u64)
            }
            (State::Pricing { stats, got, .. }, Round::Price, TaskOutput::Pricing(s)) => {
                match stats.get_mut(b) {
                    Some(slot @ None) => *slot = Some(s),
                    _ => return vec![Action::Duplicate],
                }
                *got += 1;
                (Phase::Pricing, *got == stats.len() as u64)
            }
            _ => return vec![Action::Duplicate],
        };
        let mut actions = vec![Action::Accepted(phase)];
        if complete {
            actions.push(match phase {
                Phase::Training => self.finish_training_round(problem),
                Phase::Pricing => self.complete_pricing(problem),
            });
        }
        actions
    }

    /// Merges the round's statistics in batch order and solves for β.
    fn finish_training_round(&mut self, problem: &Problem) -> Action {
        let State::Training { date, stats, .. } = std::mem::replace(&mut self.state, State::Waiting) else {
            return Action::Duplicate;
        };
        let mut merged = RegressionStats::new(problem.basis_len());
        for s in stats.iter().flatten() {
            if let Err(e) = merged.merge(s) {
                return Action::Failed(format!("instrument {}: {e}", self.index));
            }
        }
        // Finite batches can still sum to infinity, and a solve can overflow: either way
        // the policy would be garbage, so the job says so instead of pricing with it.
        if !merged.is_finite() {
            return non_finite(problem, "the merged training statistics");
        }
        let beta = merged.solve();
        if beta.as_ref().is_some_and(|b| b.iter().any(|x| !x.is_finite())) {
            return non_finite(problem, "the regression coefficients");
        }
        self.solved[date] = beta;
        self.solved_from = date;
        Action::Solved { date }
    }

    /// Merges the pricing sums in batch order and finishes the leg.
    fn complete_pricing(&mut self, problem: &Problem) -> Action {
        let State::Pricing { policy, stats, .. } = std::mem::replace(&mut self.state, State::Waiting) else {
            return Action::Duplicate;
        };
        let batches: Vec<PricingStats> = stats.iter().flatten().copied().collect();
        match finish(problem, &policy, &batches) {
            Ok(r) if !r.result.is_finite() => non_finite(problem, "the results"),
            Ok(r) => {
                self.state = State::Done(Box::new(r));
                Action::Finished
            }
            Err(e) => Action::Failed(format!("instrument {}: {e}", self.index)),
        }
    }
}

fn non_finite(problem: &Problem, what: &'static str) -> Action {
    let instrument = problem.instrument.id.clone();
    Action::Failed(crate::error::Error::NonFinite { instrument, what }.to_string())
}

#[cfg(test)]
#[path = "leg_tests.rs"]
mod tests;
