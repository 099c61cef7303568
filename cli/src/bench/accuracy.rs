//! `pathgrid bench --cases accuracy`: how often the 95% interval holds the American value, how
//! far prices are from it and how wide the intervals are, per reference set, with the time it
//! took; with `--vs quantlib`, QuantLib's MCAmericanEngine at the workshop's own settings on the
//! workshop set, judged the same way (its interval: NPV ± 1.96 × errorEstimate).
//!
//! The reference sets and their finite-difference values are pathgrid's own
//! (`tests/reference/american_fd.json`, made by `bench/make_reference.py`).

use super::{Case, CaseReport, QuantlibWorkshop, Row};
use crate::{Failure, local_runner};
use anyhow::Context;
use pathgrid_pricing::{InstrumentResult, JobSpec};
use serde_json::{Value, json};
use std::time::Instant;

const REFERENCE: &str = include_str!("../../../tests/reference/american_fd.json");
const WORKSHOP_CSV: &str = include_str!("../../../tests/reference/workshop-100.csv");
/// Pricing paths per option when `--paths` is not given: the CSV default.
const DEFAULT_PATHS: u64 = 20_000;
const SEED: u64 = 42;

/// Coverage, error and width of one engine on one set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scores {
    pub held: usize,
    pub cases: usize,
    pub max_error: f64,
    pub median_half_width: f64,
}

/// Scores prices and intervals against the FD values of `cases` (same order).
pub fn score(cases: &[Value], prices: &[(f64, [f64; 2])]) -> Scores {
    let mut s = Scores { cases: cases.len(), ..Scores::default() };
    let mut widths = Vec::with_capacity(cases.len());
    for (c, (price, [low, high])) in cases.iter().zip(prices) {
        let fd = c["american_fd"].as_f64().unwrap_or(f64::NAN);
        let fd_err = c["american_fd_error"].as_f64().unwrap_or(0.0).max(1e-4);
        if low - fd_err <= fd && fd <= high + fd_err {
            s.held += 1;
        }
        s.max_error = s.max_error.max((price - fd).abs());
        widths.push(0.5 * (high - low));
    }
    widths.sort_by(f64::total_cmp);
    s.median_half_width = widths.get(widths.len() / 2).copied().unwrap_or(0.0);
    s
}

fn spec_for(name: &str, cases: &[Value], paths: u64) -> Result<JobSpec, Failure> {
    let instruments: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "id": c["id"],
                "model": {"type": "gbm", "spot": c["spot"], "vol": c["vol"], "rate": c["rate"], "dividend": c["dividend"]},
                "payoff": {"type": c["type"], "strike": c["strike"]},
                "exercise": {"style": "american", "maturity": c["maturity"]}
            })
        })
        .collect();
    let v = json!({"name": name, "seed": SEED, "paths": paths, "instruments": instruments});
    serde_json::from_value(v).map_err(|e| Failure::Other(anyhow::anyhow!("reference set {name}: {e}")))
}

fn row(engine: &str, label: String, s: Scores, seconds: f64, path_steps: Option<u64>) -> Row {
    Row {
        engine: engine.into(),
        label,
        price: None,
        std_error: None,
        error: Some(s.max_error),
        within: None,
        outside: Some(s.cases - s.held),
        options: Some(s.cases),
        seconds,
        cpu_seconds: None,
        path_steps,
        path_steps_per_s: path_steps.map(|n| n as f64 / seconds.max(1e-12)),
        efficiency: None,
        efficiency_ratio: None,
        efficiency_cpu: None,
        efficiency_ratio_cpu: None,
    }
}

fn note(label: &str, s: Scores, seconds: f64) -> String {
    format!(
        "{label}: interval holds the FD American value for {}/{} ({:.0}%), max |price − FD| {:.4}, median half-width {:.4}, {seconds:.2} s",
        s.held,
        s.cases,
        100.0 * s.held as f64 / s.cases.max(1) as f64,
        s.max_error,
        s.median_half_width
    )
}

/// Runs the accuracy case. `quantlib` prices the workshop CSV with the workshop's MC settings and
/// returns, per option in file order, (NPV, errorEstimate) and the seconds it took.
pub fn bench(
    paths: Option<u64>,
    threads: usize,
    mut quantlib: Option<&mut QuantlibWorkshop>,
) -> Result<CaseReport, Failure> {
    let reference: Value = serde_json::from_str(REFERENCE).context("embedded reference values")?;
    let paths = paths.unwrap_or(DEFAULT_PATHS);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for name in ["workshop", "ls2001", "dividends"] {
        let cases = reference["sets"][name].as_array().cloned().unwrap_or_default();
        let spec = spec_for(name, &cases, paths)?;
        let job = spec.validate().map_err(|e| Failure::Invalid(e.to_string()))?;
        eprintln!("accuracy: {name}, {} options, {paths} paths each", cases.len());
        let start = Instant::now();
        let results: Vec<InstrumentResult> = local_runner::run_job(&job, threads, &|_| {})
            .map_err(|e| Failure::Other(anyhow::anyhow!("pricing {name}: {e}")))?;
        let seconds = start.elapsed().as_secs_f64();
        let s = score(&cases, &results.iter().map(|r| (r.price, r.ci95)).collect::<Vec<_>>());
        notes.push(note(&format!("pathgrid {name}"), s, seconds));
        rows.push(row("pathgrid", format!("pathgrid {name}"), s, seconds, Some(job.path_steps())));
        if name == "workshop"
            && let Some(ql) = quantlib.as_mut()
        {
            let (priced, seconds) = ql(WORKSHOP_CSV)?;
            let intervals: Vec<(f64, [f64; 2])> =
                priced.iter().map(|&(p, e)| (p, [p - 1.96 * e, p + 1.96 * e])).collect();
            let s = score(&cases, &intervals);
            notes.push(note("QuantLib MC (workshop settings) workshop", s, seconds));
            rows.push(row("quantlib", "QuantLib MC workshop".into(), s, seconds, None));
        }
    }
    notes.push(format!(
        "pathgrid: {paths} pricing + {} training paths per option, engine-chosen dates (continuous exercise), seed {SEED}",
        paths / 2
    ));
    Ok(CaseReport {
        case: Case::Accuracy,
        description: "95% interval coverage of the FD American value, max error, median half-width, time".into(),
        known_value: None,
        criterion: "the interval (widened by the FD value's own error, at least 1e-4) holds the FD American value; \
                    error column: max |price − FD|"
            .into(),
        rows,
        options: Vec::new(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scores_count_held_intervals() {
        let cases = vec![
            json!({"american_fd": 1.0, "american_fd_error": 0.0}),
            json!({"american_fd": 2.0, "american_fd_error": 0.0}),
        ];
        let s = score(&cases, &[(1.01, [0.99, 1.02]), (1.9, [1.8, 1.95])]);
        assert_eq!((s.held, s.cases), (1, 2));
        assert!((s.max_error - 0.1).abs() < 1e-12);
        assert!((s.median_half_width - 0.075).abs() < 1e-12);
    }
}
