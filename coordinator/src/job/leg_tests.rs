//! Drives one leg's state machine with events directly: no actor, no scheduler, no clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Action, Event, Leg};
use crate::checkpoint::InstrumentCheckpoint;
use crate::protocol::{Round, TaskOutput, Work};
use pathgrid_pricing::{Phase, Problem, RegressionStats, TrainingBatch, parse_spec, price_batch};

/// One Bermudan put (a single leg): 4 training and 4 pricing batches, 4 regression dates.
fn problem() -> Problem {
    let spec = parse_spec(
        r#"{ "name": "leg", "seed": 7, "paths": 2000, "training_paths": 2000, "batch_size": 500,
        "instruments": [ { "id": "put",
          "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
          "payoff": { "type": "put", "strike": 40.0 },
          "exercise": { "style": "bermudan", "maturity": 1.0, "steps": 5 } } ] }"#,
    )
    .unwrap();
    let job = spec.validate().unwrap();
    Problem::all(&job).remove(0)
}

/// What a node computes for `batch` under `work`, with the pricing library.
fn compute(problem: &Problem, work: &Work, batch: u64) -> (Round, TaskOutput) {
    match work {
        Work::Train { date, solved } => {
            let mut tb = TrainingBatch::rebuild(problem, batch, solved, date + 1).unwrap();
            (Round::Train(*date), TaskOutput::Regression(tb.regression_stats(problem, *date).unwrap()))
        }
        Work::Price { policy } => (Round::Price, TaskOutput::Pricing(price_batch(problem, batch, policy).unwrap())),
    }
}

fn run_of(actions: &[Action]) -> (Work, Vec<u64>) {
    match actions {
        [Action::Run { work, batches }] => (work.clone(), batches.clone()),
        other => panic!("expected one Run, got {other:?}"),
    }
}

/// Answers every batch of `run` in `order`; returns the actions of the last answer.
fn answer(leg: &mut Leg, problem: &Problem, work: &Work, batches: &[u64], reverse: bool) -> Vec<Action> {
    let mut order = batches.to_vec();
    if reverse {
        order.reverse();
    }
    let mut last = Vec::new();
    for (n, &batch) in order.iter().enumerate() {
        let (round, output) = compute(problem, work, batch);
        last = leg.step(problem, Event::Result { batch, round, output });
        if n + 1 < order.len() {
            assert!(matches!(last.as_slice(), [Action::Accepted(_)]), "batch {batch}: {last:?}");
        }
    }
    last
}

/// Runs a leg from `Start` to its end, answering batches in forward or reverse order.
/// Returns the leg and the dates solved, in the order they were solved.
fn run_to_end(problem: &Problem, reverse: bool) -> (Leg, Vec<usize>) {
    let mut leg = Leg::new(0, problem);
    let mut solved = Vec::new();
    loop {
        let (work, batches) = run_of(&leg.step(problem, Event::Start));
        let last = answer(&mut leg, problem, &work, &batches, reverse);
        match (&work, last.as_slice()) {
            (Work::Train { date, .. }, [Action::Accepted(Phase::Training), Action::Solved { date: d }]) => {
                assert_eq!(d, date);
                solved.push(*d);
            }
            (Work::Price { .. }, [Action::Accepted(Phase::Pricing), Action::Finished]) => return (leg, solved),
            (_, other) => panic!("unexpected end of round: {other:?}"),
        }
    }
}

#[test]
fn trains_every_date_from_the_last_down_then_prices() {
    let problem = problem();
    let r = problem.regression_dates();
    assert!(r >= 2, "the test needs several rounds");
    let (leg, solved) = run_to_end(&problem, false);
    assert_eq!(solved, (0..r).rev().collect::<Vec<_>>());
    assert!(leg.is_done());
    assert!(leg.result().is_some());
    assert_eq!(leg.training_date(), None);
    let counts = problem.regression_dates() as u64 * problem.batches(Phase::Training) + problem.batches(Phase::Pricing);
    assert_eq!(leg.batches_done(&problem), counts);
}

#[test]
fn batch_order_not_arrival_order_decides_the_result() {
    let problem = problem();
    let (forward, _) = run_to_end(&problem, false);
    let (backward, _) = run_to_end(&problem, true);
    assert_eq!(forward.checkpoint(), backward.checkpoint());
    assert_eq!(forward.result(), backward.result());
}

#[test]
fn duplicates_stale_rounds_and_wrong_kinds_are_dropped() {
    let problem = problem();
    let mut leg = Leg::new(0, &problem);
    let (work, batches) = run_of(&leg.step(&problem, Event::Start));
    let Work::Train { date, .. } = work else { panic!("a fresh leg trains first") };
    assert_eq!(leg.training_date(), Some(date));
    let (round, output) = compute(&problem, &work, 0);
    let first = leg.step(&problem, Event::Result { batch: 0, round, output: output.clone() });
    assert!(matches!(first.as_slice(), [Action::Accepted(Phase::Training)]));
    let again = leg.step(&problem, Event::Result { batch: 0, round, output: output.clone() });
    assert!(matches!(again.as_slice(), [Action::Duplicate]));
    let stale = leg.step(&problem, Event::Result { batch: 1, round: Round::Train(date + 1), output: output.clone() });
    assert!(matches!(stale.as_slice(), [Action::Duplicate]));
    let past_end = batches.len() as u64;
    let beyond = leg.step(&problem, Event::Result { batch: past_end, round, output });
    assert!(matches!(beyond.as_slice(), [Action::Duplicate]));
    let wrong = leg.step(&problem, Event::Result { batch: 1, round: Round::Price, output: compute_price_stub() });
    assert!(matches!(wrong.as_slice(), [Action::Duplicate]));
    // The round is still open: the dropped results did not count.
    assert_eq!(leg.training_date(), Some(date));
}

fn compute_price_stub() -> TaskOutput {
    TaskOutput::Pricing(pathgrid_pricing::PricingStats { samples: 1, ..Default::default() })
}

#[test]
fn statistics_that_sum_to_infinity_fail_the_job() {
    let problem = problem();
    let mut leg = Leg::new(0, &problem);
    let (_, batches) = run_of(&leg.step(&problem, Event::Start));
    let date = leg.training_date().unwrap();
    let mut huge = RegressionStats::new(problem.basis_len());
    huge.count = 1;
    huge.ata[0] = f64::MAX;
    let mut last = Vec::new();
    for &batch in &batches {
        let output = TaskOutput::Regression(huge.clone());
        last = leg.step(&problem, Event::Result { batch, round: Round::Train(date), output });
    }
    match last.as_slice() {
        [Action::Accepted(Phase::Training), Action::Failed(message)] => {
            assert!(message.contains("put"), "the message names the instrument: {message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(!leg.is_done());
}

/// The leg's checkpoint once its policy is complete, before any pricing batch is in.
fn policy_complete(problem: &Problem) -> InstrumentCheckpoint {
    let mut leg = Leg::new(0, problem);
    loop {
        let (work, batches) = run_of(&leg.step(problem, Event::Start));
        if matches!(work, Work::Price { .. }) {
            return leg.checkpoint();
        }
        answer(&mut leg, problem, &work, &batches, false);
    }
}

#[test]
fn a_restored_leg_asks_only_for_the_missing_pricing_batches() {
    let problem = problem();
    let (done, _) = run_to_end(&problem, false);
    let mut cp = policy_complete(&problem);
    assert_eq!(cp.solved_from, 0);
    assert_eq!(cp.solved, done.checkpoint().solved);
    assert!(cp.pricing.is_empty());
    // Batches 0 and 2 were priced before the restart.
    let cp_policy = pathgrid_pricing::ExercisePolicy { coefficients: cp.solved.clone() };
    cp.pricing = [0, 2].iter().map(|&b| (b, price_batch(&problem, b, &cp_policy).unwrap())).collect();
    let mut leg = Leg::new(0, &problem);
    leg.restore(&cp);
    assert_eq!(leg.batches_done(&problem), cp.solved.len() as u64 * problem.batches(Phase::Training) + 2);
    let (work, batches) = run_of(&leg.step(&problem, Event::Start));
    let expected: Vec<u64> = (0..problem.batches(Phase::Pricing)).filter(|b| *b != 0 && *b != 2).collect();
    assert_eq!(batches, expected);
    let last = answer(&mut leg, &problem, &work, &batches, true);
    assert!(matches!(last.as_slice(), [Action::Accepted(Phase::Pricing), Action::Finished]));
    // Restored sums merge in batch order with the new ones: the same result as one run.
    assert_eq!(leg.result(), done.result());
}

#[test]
fn a_leg_whose_pricing_was_all_restored_finishes_on_start() {
    let problem = problem();
    let (done, _) = run_to_end(&problem, false);
    let mut cp = policy_complete(&problem);
    let policy = pathgrid_pricing::ExercisePolicy { coefficients: cp.solved.clone() };
    cp.pricing =
        (0..problem.batches(Phase::Pricing)).map(|b| (b, price_batch(&problem, b, &policy).unwrap())).collect();
    let mut leg = Leg::new(0, &problem);
    leg.restore(&cp);
    let actions = leg.step(&problem, Event::Start);
    assert!(matches!(actions.as_slice(), [Action::Finished]), "{actions:?}");
    assert_eq!(leg.result(), done.result());
    // A finished leg has nothing more to start.
    assert!(leg.step(&problem, Event::Start).is_empty());
}

#[test]
fn a_checkpoint_of_another_shape_is_ignored() {
    let problem = problem();
    let r = problem.regression_dates();
    let cp = InstrumentCheckpoint { solved_from: 0, solved: vec![None; r + 1], ..Default::default() };
    let mut leg = Leg::new(0, &problem);
    leg.restore(&cp);
    let (work, _) = run_of(&leg.step(&problem, Event::Start));
    assert!(matches!(work, Work::Train { date, .. } if date == r - 1));
}
