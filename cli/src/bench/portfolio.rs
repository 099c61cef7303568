//! The `csv` case: a workshop-format CSV portfolio, each option against the finite-difference
//! value the QuantLib script computes (none without QuantLib).

use super::quantlib::Quantlib;
use super::report::{CaseReport, OptionRow, Row, efficiency, fill_ratios, fmt_opt, rms};
use super::{BenchArgs, Case, GENERATED_OPTIONS, basis_name, run_pathgrid};
use crate::Failure;
use anyhow::anyhow;
use pathgrid_pricing::workshop_csv::{self, CsvSettings};
use std::path::Path;

/// Slack on top of 3 standard errors for a CSV option (the workshop's target).
const CSV_SLACK: f64 = 0.01;

/// The workshop CSV portfolio.
pub(super) fn bench(
    args: &BenchArgs,
    csv_path: &Path,
    quantlib: Option<&Quantlib>,
    ql_version: &mut Option<String>,
) -> Result<CaseReport, Failure> {
    let mut settings = CsvSettings::default();
    if let Some(p) = args.paths {
        settings.paths = p;
    }
    let text = std::fs::read_to_string(csv_path)
        .map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", csv_path.display())))?;
    let name = csv_path.file_stem().map_or("portfolio".into(), |s| s.to_string_lossy().into_owned());
    let portfolio = workshop_csv::parse(&text, &name, &settings)
        .map_err(|e| Failure::Invalid(format!("{}: {e}", csv_path.display())))?;
    let job = portfolio.spec.validate().map_err(|e| Failure::Invalid(format!("{}: {e}", csv_path.display())))?;
    let n = job.outputs.len();
    let pg = run_pathgrid(&job, args.threads, &format!("{n}-option CSV"))?;

    let ql = match quantlib {
        Some(quantlib) => {
            let script_args = vec![
                "--case".to_string(),
                "csv".into(),
                "--csv".into(),
                csv_path.display().to_string(),
                // pathgrid's dates: 50 a year and at least 32 when the engine picks them.
                "--steps-per-year".into(),
                if settings.steps_per_year == 0 { "50".into() } else { settings.steps_per_year.to_string() },
                "--min-steps".into(),
                if settings.steps_per_year == 0 {
                    pathgrid_pricing::plan::MIN_AMERICAN_DATES.to_string()
                } else {
                    settings.min_steps.to_string()
                },
            ];
            let ql = quantlib.run(&script_args, "csv")?;
            if ql.options.len() != n {
                return Err(anyhow!("QuantLib priced {} options, pathgrid {n}", ql.options.len()).into());
            }
            *ql_version = Some(ql.quantlib_version.clone());
            Some(ql)
        }
        None => None,
    };

    let mut options = Vec::with_capacity(n);
    for (i, r) in pg.results.iter().enumerate() {
        let q = ql.as_ref().and_then(|q| q.options.get(i));
        if let Some(q) = q
            && q.id != r.id
        {
            return Err(anyhow!("option {} is {:?} for pathgrid but {:?} for QuantLib", i + 1, r.id, q.id).into());
        }
        options.push(OptionRow {
            id: r.id.clone(),
            pathgrid_price: r.price,
            pathgrid_std_error: r.std_error,
            quantlib_price: q.map(|q| q.price),
            quantlib_std_error: q.and_then(|q| q.std_error),
            quantlib_seconds: q.map(|q| q.seconds),
            fd: q.and_then(|q| q.fd),
            fd_bermudan: q.and_then(|q| q.fd_bermudan),
        });
    }

    let pg_prices: Vec<(f64, f64)> = options.iter().map(|o| (o.pathgrid_price, o.pathgrid_std_error)).collect();
    let fd: Vec<Option<f64>> = options.iter().map(|o| o.fd).collect();
    let fd_bermudan: Vec<Option<f64>> = options.iter().map(|o| o.fd_bermudan).collect();
    let pg_rms_se = rms(pg_prices.iter().map(|p| p.1));
    let (pg_outside, pg_compared, pg_rms_err) = compare(&pg_prices, &fd);
    let mut rows = vec![Row {
        engine: "pathgrid".into(),
        label: "pathgrid".into(),
        price: None,
        std_error: pg_rms_se,
        error: pg_rms_err,
        within: None,
        outside: (pg_compared > 0).then_some(pg_outside),
        options: Some(n),
        seconds: pg.seconds,
        cpu_seconds: pg.cpu_seconds,
        path_steps: Some(pg.path_steps),
        path_steps_per_s: Some(pg.path_steps as f64 / pg.seconds.max(1e-12)),
        efficiency: pg_rms_se.and_then(|se| efficiency(se, pg.seconds)),
        efficiency_ratio: None,
        efficiency_cpu: None,
        efficiency_ratio_cpu: None,
    }];
    let mut notes = vec![format!(
        "pathgrid: {} + {} paths per option (antithetic), {} exercise dates per year (at least {}), basis {}, seed {}, {} thread(s)",
        pg.paths,
        pg.training_paths,
        settings.steps_per_year,
        settings.min_steps,
        basis_name(&job),
        settings.seed,
        args.threads
    )];
    if let Some(ql) = &ql {
        let ql_prices: Vec<(f64, f64)> =
            ql.options.iter().map(|o| (o.price, o.std_error.unwrap_or(f64::INFINITY))).collect();
        let ql_rms_se = rms(ql.options.iter().filter_map(|o| o.std_error));
        let (ql_outside, ql_compared, ql_rms_err) = compare(&ql_prices, &fd);
        let seconds = ql.seconds.unwrap_or_else(|| ql.options.iter().map(|o| o.seconds).sum());
        rows.push(Row {
            engine: "quantlib".into(),
            label: "quantlib workshop".into(),
            price: None,
            std_error: ql_rms_se,
            error: ql_rms_err,
            within: None,
            outside: (ql_compared > 0).then_some(ql_outside),
            options: Some(n),
            seconds,
            cpu_seconds: ql.cpu_seconds,
            path_steps: None,
            path_steps_per_s: None,
            efficiency: ql_rms_se.and_then(|se| efficiency(se, seconds)),
            efficiency_ratio: None,
            efficiency_cpu: None,
            efficiency_ratio_cpu: None,
        });
        let s = &ql.settings;
        notes.push(format!(
            "QuantLib {} with the workshop's settings (QuantLib's EquityOption example): MCAmericanEngine PseudoRandom, timeSteps {}, antithetic, {} calibration samples, absolute tolerance {}, {} basis order {}, seed {}",
            ql.quantlib_version,
            s["time_steps"],
            s["calibration_samples"],
            s["absolute_tolerance"],
            s["basis"].as_str().unwrap_or("?"),
            s["degree"],
            s["seed"]
        ));
        let (b_outside, b_compared, b_rms_err) = compare(&pg_prices, &fd_bermudan);
        notes.push(format!(
            "reference: QuantLib FdBlackScholesVanillaEngine {g}×{g} per option, American exercise (FD time {:.1} s, not counted); against the Bermudan FD on pathgrid's own exercise dates pathgrid has {b_outside}/{b_compared} outside, rms error {}",
            ql.fd_seconds.unwrap_or(f64::NAN),
            fmt_opt(b_rms_err, |x| format!("{x:.5}")),
            g = s["fd_grid"]
        ));
    } else {
        notes.push(
            "no reference values without --vs quantlib (the finite-difference values come from its script)".into(),
        );
    }
    fill_ratios(&mut rows);
    let source = match &args.csv {
        Some(p) => p.display().to_string(),
        None => format!("generated {GENERATED_OPTIONS}-option CSV"),
    };
    Ok(CaseReport {
        case: Case::Csv,
        description: format!("workshop CSV portfolio: {n} American options ({source}); reference: FD per option"),
        known_value: None,
        criterion: format!("|price − FD| ≤ 3 s.e. + {CSV_SLACK} per option; std error and error are rms over options"),
        rows,
        options,
        notes,
    })
}

/// Options outside 3 s.e. + 0.01 of their reference, options compared, rms error.
fn compare(prices: &[(f64, f64)], reference: &[Option<f64>]) -> (usize, usize, Option<f64>) {
    let pairs: Vec<(f64, f64, f64)> =
        prices.iter().zip(reference).filter_map(|(&(p, se), r)| r.map(|r| (p, se, r))).collect();
    let outside = pairs.iter().filter(|(p, se, r)| (p - r).abs() > 3.0 * se + CSV_SLACK).count();
    (outside, pairs.len(), rms(pairs.iter().map(|(p, _, r)| p - r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_counts_options_outside() {
        let prices = [(1.0, 0.001), (2.0, 0.001), (3.0, 0.1)];
        let reference = [Some(1.005), Some(2.02), None];
        let (outside, compared, rms_err) = compare(&prices, &reference);
        assert_eq!((outside, compared), (1, 2));
        assert!(rms_err.is_some_and(|e| (e - ((0.005f64.powi(2) + 0.02f64.powi(2)) / 2.0).sqrt()).abs() < 1e-12));
    }
}
