//! Judging a node's output before it reaches a job: a malformed one is the node's fault,
//! a non-finite one the job's.

use crate::protocol::{TaskOutput, TaskSpec, Work};
use pathgrid_pricing::Phase;

/// Whose fault a rejected result is.
pub(super) enum Fault {
    /// The node broke the protocol (wrong kind or shape): it is dropped.
    Node(Breach),
    /// The job asked for something that cannot be computed (sums that overflow): it fails.
    Job(pathgrid_pricing::Error),
}

/// How a node broke the protocol; the text is the reason logged when it is dropped.
#[derive(Debug, thiserror::Error)]
pub(super) enum Breach {
    #[error("bad regression statistics: {0}")]
    BadRegression(pathgrid_pricing::Error),
    #[error("bad pricing statistics: {0}")]
    BadPricing(pathgrid_pricing::Error),
    #[error("result kind does not match the task")]
    WrongKind,
}

/// Checks that a node's output has the kind and shape its task calls for (no more samples
/// than the batch has paths), and finite sums.
pub(super) fn check_output(t: &TaskSpec, output: &TaskOutput) -> Result<(), Fault> {
    let problem = t.job.problems.get(t.instrument as usize);
    let basis = problem.map(|p| p.basis_len()).unwrap_or(0);
    let paths = |phase| problem.and_then(|p| p.batch_len(phase, t.batch).ok()).unwrap_or(0);
    let (finite, phase) = match (&t.work, output) {
        (Work::Train { .. }, TaskOutput::Regression(s)) => {
            s.check(basis)
                .and_then(|()| s.check_count(paths(Phase::Training)))
                .map_err(|e| Fault::Node(Breach::BadRegression(e)))?;
            (s.is_finite(), Phase::Training)
        }
        (Work::Price { .. }, TaskOutput::Pricing(p)) => {
            p.check(paths(Phase::Pricing)).map_err(|e| Fault::Node(Breach::BadPricing(e)))?;
            (p.is_finite(), Phase::Pricing)
        }
        _ => return Err(Fault::Node(Breach::WrongKind)),
    };
    if finite {
        return Ok(());
    }
    let instrument = problem.map(|p| p.instrument.id.clone()).unwrap_or_default();
    Err(Fault::Job(pathgrid_pricing::Error::NonFinite { instrument, phase: phase.name(), batch: t.batch }))
}
