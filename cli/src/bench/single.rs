//! The single-option cases: `ls2001` (the Longstaff–Schwartz put with 50 exercise dates) and
//! `european` (its European twin, against Black–Scholes).

use super::quantlib::Quantlib;
use super::report::{CaseReport, Row, efficiency, fill_ratios};
use super::{BenchArgs, Case, SEED, basis_name, run_pathgrid};
use crate::Failure;
use anyhow::anyhow;
use pathgrid_pricing::{Job, black_scholes, parse_job};

/// Finite-difference value of the LS2001 put with 50 exercise dates (Bermudan).
pub const LS2001_BERMUDAN_FD: f64 = 4.4778;

const LS2001: Ls2001 = Ls2001 { spot: 36.0, strike: 40.0, vol: 0.2, rate: 0.06, maturity: 1.0, dates: 50 };
const DEFAULT_PATHS: u64 = 200_000;
/// The European case is one step per path: more paths keep its timing above clock noise.
const DEFAULT_EUROPEAN_PATHS: u64 = 2_000_000;
/// Slack on top of 3 standard errors: the bias budget of a single option.
const SINGLE_SLACK: f64 = 0.001;

#[derive(Debug, Clone, Copy)]
struct Ls2001 {
    spot: f64,
    strike: f64,
    vol: f64,
    rate: f64,
    maturity: f64,
    dates: u64,
}

/// The LS2001 put as a job: Bermudan on 50 dates (what QuantLib's MCAmericanEngine with 50
/// time steps prices, and what the reference FD value is for; `american` would ask pathgrid
/// for the continuously exercisable value), or European (no training needed).
fn ls2001_job(paths: u64, european: bool) -> Result<Job, Failure> {
    let p = LS2001;
    let exercise = if european {
        serde_json::json!({ "style": "european", "maturity": p.maturity })
    } else {
        serde_json::json!({ "style": "bermudan", "maturity": p.maturity, "steps": p.dates })
    };
    let spec = serde_json::json!({
        "name": if european { "ls2001-european-put" } else { "ls2001-put" },
        "seed": SEED,
        "paths": paths,
        "training_paths": if european { 2 } else { (paths / 2).max(2) },
        "batch_size": 8192,
        "antithetic": true,
        "basis": { "kind": "laguerre", "degree": 3 },
        "instruments": [{
            "id": if european { "put-36-european" } else { "put-36" },
            "model": { "type": "gbm", "spot": p.spot, "vol": p.vol, "rate": p.rate, "dividend": 0.0 },
            "payoff": { "type": "put", "strike": p.strike },
            "exercise": exercise,
        }],
    });
    parse_job(&spec.to_string()).map_err(|e| Failure::Invalid(format!("bench spec: {e}")))
}

/// ls2001 (Bermudan, 50 dates) or its European twin.
pub(super) fn bench(
    args: &BenchArgs,
    european: bool,
    quantlib: Option<&Quantlib>,
    ql_version: &mut Option<String>,
) -> Result<CaseReport, Failure> {
    let case = if european { Case::European } else { Case::Ls2001 };
    let p = LS2001;
    let default_paths = if european { DEFAULT_EUROPEAN_PATHS } else { DEFAULT_PATHS };
    let job = ls2001_job(args.paths.unwrap_or(default_paths), european)?;
    let pg = run_pathgrid(&job, args.threads, case.name())?;
    let Some(result) = pg.results.first() else {
        return Err(anyhow!("pathgrid returned no result for {}", case.name()).into());
    };
    let known = if european {
        black_scholes::price(false, p.spot, p.strike, p.rate, 0.0, p.vol, p.maturity)
    } else {
        LS2001_BERMUDAN_FD
    };
    let within = |price: f64, se: f64| (price - known).abs() <= 3.0 * se + SINGLE_SLACK;

    let mut rows = vec![Row {
        engine: "pathgrid".into(),
        label: if european { "pathgrid".into() } else { format!("pathgrid {}", basis_name(&job)) },
        price: Some(result.price),
        std_error: Some(result.std_error),
        error: Some(result.price - known),
        within: Some(within(result.price, result.std_error)),
        outside: None,
        options: None,
        seconds: pg.seconds,
        cpu_seconds: pg.cpu_seconds,
        path_steps: Some(pg.path_steps),
        path_steps_per_s: Some(pg.path_steps as f64 / pg.seconds.max(1e-12)),
        efficiency: efficiency(result.std_error, pg.seconds),
        efficiency_ratio: None,
        efficiency_cpu: None,
        efficiency_ratio_cpu: None,
    }];
    let mut notes = vec![format!(
        "pathgrid: {} pricing + {} training paths (antithetic), {} thread(s), seed {SEED}, batch 8192{}",
        pg.paths,
        pg.training_paths,
        args.threads,
        if european {
            ", no control variate (European exercise)".to_string()
        } else {
            format!(", basis {}, European control variate", basis_name(&job))
        }
    )];

    if let Some(ql) = quantlib {
        // Same number of paths as pathgrid for the European; the LS2001 runs use --ql-samples.
        let samples = if european { (pg.paths / 2).max(1) } else { args.ql_samples };
        let mut script_args = vec!["--case".to_string(), case.name().into(), "--samples".into(), samples.to_string()];
        if !european {
            script_args.extend(["--basis".to_string(), args.ql_basis.clone()]);
        }
        let ql = ql.run(&script_args, case.name())?;
        *ql_version = Some(ql.quantlib_version.clone());
        for run in &ql.runs {
            let label = match (&run.basis, run.degree) {
                (Some(b), Some(d)) => format!("quantlib {b} {d}"),
                _ => "quantlib".into(),
            };
            rows.push(Row {
                engine: "quantlib".into(),
                label,
                price: Some(run.price),
                std_error: run.std_error,
                error: Some(run.price - known),
                within: run.std_error.map(|se| within(run.price, se)),
                outside: None,
                options: None,
                seconds: run.seconds,
                cpu_seconds: run.cpu_seconds,
                path_steps: run.path_steps,
                path_steps_per_s: run.path_steps.map(|n| n as f64 / run.seconds.max(1e-12)),
                efficiency: run.std_error.and_then(|se| efficiency(se, run.seconds)),
                efficiency_ratio: None,
                efficiency_cpu: None,
                efficiency_ratio_cpu: None,
            });
        }
        notes.push(if european {
            format!("QuantLib {}: MCEuropeanEngine PseudoRandom, antithetic, 1 time step, {samples} samples ({} paths), seed {SEED}", ql.quantlib_version, 2 * samples)
        } else {
            format!(
                "QuantLib {}: MCAmericanEngine PseudoRandom, antithetic, timeSteps {}, {samples} samples + {samples} calibration samples ({} + {} paths), seed {SEED}",
                ql.quantlib_version,
                p.dates,
                2 * samples,
                2 * samples
            )
        });
        if let Some(fd) = &ql.fd {
            notes.push(format!(
                "QuantLib FdBlackScholesVanillaEngine {g}×{g}: Bermudan (50 dates) {:.5}, American {:.5}",
                fd.bermudan,
                fd.american,
                g = fd.grid
            ));
        }
        if let Some(analytic) = ql.known_value
            && european
        {
            notes.push(format!("QuantLib analytic European {analytic:.6}"));
        }
    }
    fill_ratios(&mut rows);

    let description = if european {
        format!(
            "European put S={} K={} σ={} T={} r={}; reference: Black–Scholes {known:.6}",
            p.spot, p.strike, p.vol, p.maturity, p.rate
        )
    } else {
        format!(
            "LS2001 put S={} K={} σ={} T={} r={}, Bermudan on {} exercise dates; reference: Bermudan FD {known}",
            p.spot, p.strike, p.vol, p.maturity, p.rate, p.dates
        )
    };
    Ok(CaseReport {
        case,
        description,
        known_value: Some(known),
        criterion: format!("|price − reference| ≤ 3 s.e. + {SINGLE_SLACK}"),
        rows,
        options: Vec::new(),
        notes,
    })
}
