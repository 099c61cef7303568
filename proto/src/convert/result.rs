//! Results: per instrument (pricing types) and per job (protocol types), and the job phase
//! they carry.

use crate::error::Error;
use crate::v1;
use pathgrid_pricing::{Accuracy, Estimate, InstrumentResult};
use pathgrid_protocol::{JobPhase, JobResult, JobStats};

pub fn phase_to_proto(p: JobPhase) -> v1::JobPhase {
    match p {
        JobPhase::Queued => v1::JobPhase::Queued,
        JobPhase::Training => v1::JobPhase::Training,
        JobPhase::Pricing => v1::JobPhase::Pricing,
        JobPhase::Succeeded => v1::JobPhase::Succeeded,
        JobPhase::Failed => v1::JobPhase::Failed,
        JobPhase::Cancelled => v1::JobPhase::Cancelled,
    }
}

pub fn phase_from_proto(p: i32, field: &str) -> Result<JobPhase, Error> {
    match v1::JobPhase::try_from(p) {
        Ok(v1::JobPhase::Queued) => Ok(JobPhase::Queued),
        Ok(v1::JobPhase::Training) => Ok(JobPhase::Training),
        Ok(v1::JobPhase::Pricing) => Ok(JobPhase::Pricing),
        Ok(v1::JobPhase::Succeeded) => Ok(JobPhase::Succeeded),
        Ok(v1::JobPhase::Failed) => Ok(JobPhase::Failed),
        Ok(v1::JobPhase::Cancelled) => Ok(JobPhase::Cancelled),
        _ => Err(Error::field(field, format!("unknown job phase {p}"))),
    }
}

pub fn instrument_result_to_proto(r: &InstrumentResult) -> v1::InstrumentResult {
    v1::InstrumentResult {
        id: r.id.clone(),
        price: r.price,
        std_error: r.std_error,
        ci95_low: r.ci95[0],
        ci95_high: r.ci95[1],
        european_price: r.european_price,
        early_exercise_premium: r.early_exercise_premium,
        exercise_boundary: r
            .exercise_boundary
            .as_ref()
            .map(|b| v1::DoubleList { values: b.iter().flat_map(|p| p.iter().copied()).collect() }),
        accuracy: r.accuracy.as_ref().map(|a| v1::Accuracy {
            method: a.method.clone(),
            exercise_dates: a.exercise_dates,
            extrapolation: a.extrapolation,
            policy_bias: a.policy_bias,
        }),
        lower_bound: r.lower_bound.map(|e| v1::Estimate { value: e.value, std_error: e.std_error }),
        upper_bound: r.upper_bound.map(|e| v1::Estimate { value: e.value, std_error: e.std_error }),
    }
}

pub fn instrument_result_from_proto(r: &v1::InstrumentResult, field: &str) -> Result<InstrumentResult, Error> {
    let exercise_boundary = match &r.exercise_boundary {
        None => None,
        Some(b) => {
            if b.values.len() % 2 != 0 {
                return Err(Error::field(format!("{field}.exercise_boundary"), "must hold (time, spot) pairs"));
            }
            Some(b.values.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
        }
    };
    Ok(InstrumentResult {
        id: r.id.clone(),
        price: r.price,
        std_error: r.std_error,
        ci95: [r.ci95_low, r.ci95_high],
        european_price: r.european_price,
        early_exercise_premium: r.early_exercise_premium,
        exercise_boundary,
        accuracy: r.accuracy.as_ref().map(|a| Accuracy {
            method: a.method.clone(),
            exercise_dates: a.exercise_dates,
            extrapolation: a.extrapolation,
            policy_bias: a.policy_bias,
        }),
        lower_bound: r.lower_bound.map(|e| Estimate { value: e.value, std_error: e.std_error }),
        upper_bound: r.upper_bound.map(|e| Estimate { value: e.value, std_error: e.std_error }),
    })
}

pub fn job_result_to_proto(r: &JobResult) -> v1::JobResult {
    let s = &r.stats;
    v1::JobResult {
        job_id: r.job_id.clone(),
        name: r.name.clone(),
        status: phase_to_proto(r.status) as i32,
        results: r.results.iter().map(instrument_result_to_proto).collect(),
        stats: Some(v1::JobStats {
            paths: s.paths,
            training_paths: s.training_paths,
            path_steps: s.path_steps,
            elapsed_s: s.elapsed_s,
            nodes: s.nodes,
            batches: s.batches,
            seed: s.seed,
        }),
        error: r.error.clone(),
    }
}

pub fn job_result_from_proto(r: &v1::JobResult) -> Result<JobResult, Error> {
    let s = r.stats.as_ref().ok_or_else(|| Error::missing("result.stats"))?;
    Ok(JobResult {
        job_id: r.job_id.clone(),
        name: r.name.clone(),
        status: phase_from_proto(r.status, "result.status")?,
        results: r
            .results
            .iter()
            .enumerate()
            .map(|(i, x)| instrument_result_from_proto(x, &format!("result.results[{i}]")))
            .collect::<Result<_, _>>()?,
        stats: JobStats {
            paths: s.paths,
            training_paths: s.training_paths,
            path_steps: s.path_steps,
            elapsed_s: s.elapsed_s,
            nodes: s.nodes,
            batches: s.batches,
            seed: s.seed,
        },
        error: r.error.clone(),
    })
}
