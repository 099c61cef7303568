//! `pathgrid bench`: pathgrid — and with `--vs quantlib` QuantLib — on the same problems, side by
//! side, in one run.
//!
//! Cases:
//! - `ls2001`: the Longstaff–Schwartz (2001) American put (S=36, K=40, σ=0.2, T=1, r=0.06,
//!   50 exercise dates) against the finite-difference Bermudan value 4.4778;
//! - `csv`: a workshop-format CSV portfolio (a generated 100-option one unless `--csv`), each
//!   option against a finite-difference value computed by the QuantLib script (none without
//!   QuantLib);
//! - `european`: the same put with European exercise against Black–Scholes;
//! - `accuracy`: interval coverage, errors and widths on the reference sets
//!   ([`crate::bench_accuracy`]).
//!
//! pathgrid runs in process through [`local_runner::run_job`] (one thread unless `--threads`).
//! QuantLib runs through `bench/quantlib_bench.py` (compiled into the binary) in a venv under
//! `$HOME/.cache/pathgrid/quantlib-venv`, created on first use. Efficiency is
//! `1 / (std_error² × seconds)`: the inverse of the time needed for a unit variance.

use crate::{Failure, local_runner};
use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use pathgrid_pricing::spec::BasisKind;
use pathgrid_pricing::workshop_csv::{self, CsvSettings, Date};
use pathgrid_pricing::{InstrumentResult, Job, black_scholes, parse_job};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Finite-difference value of the LS2001 put with 50 exercise dates (Bermudan).
pub const LS2001_BERMUDAN_FD: f64 = 4.4778;
/// The QuantLib release compared against (PyPI `QuantLib`).
pub const QUANTLIB_VERSION: &str = "1.44";
/// Options in the generated workshop CSV.
pub const GENERATED_OPTIONS: usize = 100;

const LS2001: Ls2001 = Ls2001 { spot: 36.0, strike: 40.0, vol: 0.2, rate: 0.06, maturity: 1.0, dates: 50 };
const DEFAULT_PATHS: u64 = 200_000;
/// The European case is one step per path: more paths keep its timing above clock noise.
const DEFAULT_EUROPEAN_PATHS: u64 = 2_000_000;
const SEED: u64 = 42;
/// Slack on top of 3 standard errors: single options (bias budget) and CSV options (the target).
const SINGLE_SLACK: f64 = 0.001;
const CSV_SLACK: f64 = 0.01;
const SCRIPT: &str = include_str!("../../bench/quantlib_bench.py");

#[derive(Debug, Clone, Copy)]
struct Ls2001 {
    spot: f64,
    strike: f64,
    vol: f64,
    rate: f64,
    maturity: f64,
    dates: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Versus {
    Quantlib,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    Ls2001,
    Csv,
    European,
    /// Interval coverage and errors on the reference sets (`crate::bench_accuracy`).
    Accuracy,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Ls2001 => "ls2001",
            Case::Csv => "csv",
            Case::European => "european",
            Case::Accuracy => "accuracy",
        }
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Also run QuantLib (PyPI QuantLib 1.44, one thread) on the same problems.
    #[arg(long, value_enum)]
    pub vs: Option<Versus>,
    /// Print exactly one JSON document on stdout instead of the table (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Workshop-format CSV for the portfolio case (default: a generated 100-option CSV).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// pathgrid pricing paths per instrument (default 200000 for ls2001, 2000000 for european,
    /// 20000 per CSV option); training paths are half of it. QuantLib's European run uses as many.
    #[arg(long)]
    pub paths: Option<u64>,
    /// pathgrid worker threads (QuantLib always runs on one).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Cases to run, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub cases: Vec<Case>,
    /// QuantLib samples for ls2001 (antithetic pairs: twice as many paths), also its calibration
    /// samples.
    #[arg(long, default_value_t = 50_000)]
    pub ql_samples: u64,
    /// QuantLib LSM bases for ls2001, `name:degree` comma-separated; the best efficiency is the
    /// reference of the ratio.
    #[arg(long, default_value = "laguerre:3,monomial:2,monomial:3")]
    pub ql_basis: String,
    /// Python interpreter with QuantLib installed (default: the venv under
    /// $HOME/.cache/pathgrid/quantlib-venv, created when missing).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Also write the generated 100-option CSV here.
    #[arg(long)]
    pub write_csv: Option<PathBuf>,
    /// Also write the JSON report here.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// The whole report: what `--json` prints.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub pathgrid_version: &'static str,
    pub threads: usize,
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub quantlib_version: Option<String>,
    /// 1-minute load average of the machine before and after the run (other work skews times).
    pub load_average: [Option<f64>; 2],
    pub cases: Vec<CaseReport>,
}

#[derive(Debug, Serialize)]
pub struct CaseReport {
    pub case: Case,
    pub description: String,
    /// The reference value (ls2001, european); per option in `options` for the CSV.
    pub known_value: Option<f64>,
    /// When a price counts as matching its reference.
    pub criterion: String,
    pub rows: Vec<Row>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionRow>,
    pub notes: Vec<String>,
}

/// One engine on one case.
#[derive(Debug, Serialize)]
pub struct Row {
    pub engine: String,
    pub label: String,
    /// The price (none for a portfolio).
    pub price: Option<f64>,
    /// Standard error; root mean square over the options of a portfolio.
    pub std_error: Option<f64>,
    /// Price minus the reference; root mean square over the options of a portfolio.
    pub error: Option<f64>,
    /// Whether the price meets the criterion (single options).
    pub within: Option<bool>,
    /// Options of the portfolio outside the criterion, and how many were compared.
    pub outside: Option<usize>,
    pub options: Option<usize>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// CPU seconds of the process over the same span (user + system), where measured.
    pub cpu_seconds: Option<f64>,
    pub path_steps: Option<u64>,
    pub path_steps_per_s: Option<f64>,
    /// 1 / (std_error² × seconds).
    pub efficiency: Option<f64>,
    /// Efficiency over the best QuantLib efficiency of the case.
    pub efficiency_ratio: Option<f64>,
    /// The same two with CPU seconds: steadier when other work shares the machine.
    pub efficiency_cpu: Option<f64>,
    pub efficiency_ratio_cpu: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct OptionRow {
    pub id: String,
    pub pathgrid_price: f64,
    pub pathgrid_std_error: f64,
    pub quantlib_price: Option<f64>,
    pub quantlib_std_error: Option<f64>,
    pub quantlib_seconds: Option<f64>,
    /// Finite-difference value with American exercise.
    pub fd: Option<f64>,
    /// Finite-difference value with Bermudan exercise on pathgrid's dates.
    pub fd_bermudan: Option<f64>,
}

/// What the QuantLib script prints for one case (extra fields ignored).
#[derive(Debug, Deserialize)]
struct QlOutput {
    quantlib_version: String,
    #[serde(default)]
    known_value: Option<f64>,
    #[serde(default)]
    runs: Vec<QlRun>,
    #[serde(default)]
    options: Vec<QlOption>,
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    cpu_seconds: Option<f64>,
    #[serde(default)]
    fd_seconds: Option<f64>,
    #[serde(default)]
    fd: Option<QlFd>,
    #[serde(default)]
    settings: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct QlRun {
    basis: Option<String>,
    degree: Option<u32>,
    price: f64,
    std_error: Option<f64>,
    seconds: f64,
    #[serde(default)]
    cpu_seconds: Option<f64>,
    path_steps: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct QlOption {
    id: String,
    price: f64,
    std_error: Option<f64>,
    seconds: f64,
    fd: Option<f64>,
    fd_bermudan: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct QlFd {
    grid: u64,
    bermudan: f64,
    american: f64,
}

/// A pathgrid run: results in instrument order, wall time, work done.
#[derive(Debug)]
struct PgRun {
    results: Vec<InstrumentResult>,
    seconds: f64,
    cpu_seconds: Option<f64>,
    path_steps: u64,
    paths: u64,
    training_paths: u64,
}

/// A scratch directory removed when dropped.
#[derive(Debug)]
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> anyhow::Result<WorkDir> {
        let dir = std::env::temp_dir().join(format!("pathgrid-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    if args.threads == 0 {
        return Err(Failure::Invalid("--threads: must be at least 1".into()));
    }
    if args.paths == Some(0) {
        return Err(Failure::Invalid("--paths: must be at least 1".into()));
    }
    if args.ql_samples == 0 {
        return Err(Failure::Invalid("--ql-samples: must be at least 1".into()));
    }
    let mut cases =
        if args.cases.is_empty() { vec![Case::Ls2001, Case::Csv, Case::European] } else { args.cases.clone() };
    cases.dedup();

    let work = WorkDir::new()?;
    let generated = generated_csv(GENERATED_OPTIONS)?;
    if let Some(path) = &args.write_csv {
        std::fs::write(path, &generated).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let csv_path = match &args.csv {
        Some(path) => path.clone(),
        None => {
            let path = work.0.join("workshop-100.csv");
            std::fs::write(&path, &generated).with_context(|| format!("cannot write {}", path.display()))?;
            path
        }
    };

    // Set QuantLib up first: a broken Python should fail the bench before minutes of work.
    let quantlib = match args.vs {
        Some(Versus::Quantlib) => {
            let python = quantlib_python(args.python.as_deref())?;
            let script = work.0.join("quantlib_bench.py");
            std::fs::write(&script, SCRIPT).with_context(|| format!("cannot write {}", script.display()))?;
            Some((python, script))
        }
        None => None,
    };

    let mut report = BenchReport {
        pathgrid_version: env!("CARGO_PKG_VERSION"),
        threads: args.threads,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: cpu_model(),
        quantlib_version: None,
        load_average: [load_average(), None],
        cases: Vec::new(),
    };
    for case in cases {
        let case_report = match case {
            Case::Ls2001 => bench_single(&args, false, quantlib.as_ref(), &mut report.quantlib_version)?,
            Case::European => bench_single(&args, true, quantlib.as_ref(), &mut report.quantlib_version)?,
            Case::Csv => bench_csv(&args, &csv_path, quantlib.as_ref(), &mut report.quantlib_version)?,
            Case::Accuracy => {
                let version = &mut report.quantlib_version;
                let dir = &work.0;
                let mut ql = quantlib
                    .as_ref()
                    .map(|(python, script)| move |csv: &str| quantlib_workshop(python, script, dir, csv, version));
                crate::bench_accuracy::bench(args.paths, args.threads, ql.as_mut().map(|f| f as &mut QuantlibWorkshop))?
            }
        };
        report.cases.push(case_report);
    }

    report.load_average[1] = load_average();
    let json = serde_json::to_string_pretty(&report).context("serialising the report")?;
    if let Some(path) = &args.output {
        std::fs::write(path, format!("{json}\n")).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

/// The LS2001 put as a job: American with 50 dates, or European (no training needed).
fn ls2001_job(paths: u64, european: bool) -> Result<Job, Failure> {
    let p = LS2001;
    let exercise = if european {
        serde_json::json!({ "style": "european", "maturity": p.maturity })
    } else {
        serde_json::json!({ "style": "american", "maturity": p.maturity, "steps": p.dates })
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

fn run_pathgrid(job: &Job, threads: usize, what: &str) -> anyhow::Result<PgRun> {
    eprintln!("pathgrid: {what} on {threads} thread(s)…");
    let cpu = cpu_seconds();
    let started = Instant::now();
    let results = local_runner::run_job(job, threads, &|_| {}).with_context(|| format!("pathgrid failed on {what}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu.zip(cpu_seconds()).map(|(a, b)| b - a);
    Ok(PgRun {
        results,
        seconds,
        cpu_seconds,
        path_steps: job.path_steps(),
        paths: job.settings.paths,
        training_paths: job.settings.training_paths,
    })
}

/// The regression basis of the job's first instrument, as people write it.
fn basis_name(job: &Job) -> String {
    let Some(basis) = job.instruments.first().map(|i| &i.basis) else { return "n/a".into() };
    let kind = match basis.kind() {
        BasisKind::Laguerre => "laguerre",
        BasisKind::Monomial => "monomial",
        BasisKind::Polynomial => "polynomial",
    };
    let european = if basis.has_european_term() { "+Eur" } else { "" };
    format!("{kind} {}{european}", basis.degree())
}

/// ls2001 (American, 50 dates) or its European twin.
fn bench_single(
    args: &BenchArgs,
    european: bool,
    quantlib: Option<&(PathBuf, PathBuf)>,
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

    if let Some((python, script)) = quantlib {
        // Same number of paths as pathgrid for the European; the LS2001 runs use --ql-samples.
        let samples = if european { (pg.paths / 2).max(1) } else { args.ql_samples };
        let mut script_args = vec!["--case".to_string(), case.name().into(), "--samples".into(), samples.to_string()];
        if !european {
            script_args.extend(["--basis".to_string(), args.ql_basis.clone()]);
        }
        let ql = run_quantlib(python, script, &script_args, case.name())?;
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
            "LS2001 American put S={} K={} σ={} T={} r={}, {} exercise dates; reference: Bermudan FD {known}",
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

/// The workshop CSV portfolio.
fn bench_csv(
    args: &BenchArgs,
    csv_path: &Path,
    quantlib: Option<&(PathBuf, PathBuf)>,
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
        Some((python, script)) => {
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
            let ql = run_quantlib(python, script, &script_args, "csv")?;
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

fn rms(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = values.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x * x));
    (n > 0).then(|| (sum / n as f64).sqrt())
}

fn efficiency(std_error: f64, seconds: f64) -> Option<f64> {
    (std_error > 0.0 && seconds > 0.0).then(|| 1.0 / (std_error * std_error * seconds))
}

/// Every row's CPU-time efficiency, and both efficiencies over the best QuantLib one of the case.
fn fill_ratios(rows: &mut [Row]) {
    for r in rows.iter_mut() {
        r.efficiency_cpu = r.std_error.zip(r.cpu_seconds).and_then(|(se, cpu)| efficiency(se, cpu));
    }
    let best = |rows: &[Row], pick: fn(&Row) -> Option<f64>| {
        rows.iter().filter(|r| r.engine == "quantlib").filter_map(pick).fold(None, |b: Option<f64>, e| {
            Some(match b {
                Some(b) if b >= e => b,
                _ => e,
            })
        })
    };
    let best_wall = best(rows, |r| r.efficiency);
    let best_cpu = best(rows, |r| r.efficiency_cpu);
    for r in rows.iter_mut() {
        r.efficiency_ratio = r.efficiency.zip(best_wall).map(|(e, b)| e / b);
        r.efficiency_ratio_cpu = r.efficiency_cpu.zip(best_cpu).map(|(e, b)| e / b);
    }
}

/// The interpreter to run the QuantLib script with: `--python`, or the cached venv, created
/// (python3 -m venv, pip install QuantLib==1.44) when missing.
fn quantlib_python(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(python) = explicit {
        return match quantlib_version(python) {
            Some(_) => Ok(python.to_path_buf()),
            None => bail!("{} cannot import QuantLib (pip install QuantLib=={QUANTLIB_VERSION})", python.display()),
        };
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("HOME is not set, so there is no place for the QuantLib venv; pass --python"))?;
    let venv = PathBuf::from(home).join(".cache/pathgrid/quantlib-venv");
    let python = venv.join("bin/python");
    if quantlib_version(&python).as_deref() == Some(QUANTLIB_VERSION) {
        return Ok(python);
    }
    eprintln!("setting up QuantLib {QUANTLIB_VERSION} in {} (python3 -m venv, pip install)…", venv.display());
    if !python.exists() {
        if let Some(parent) = venv.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .context("cannot run python3 to create the QuantLib venv (is python3 installed?)")?;
        if !status.success() {
            bail!(
                "`python3 -m venv {}` failed ({status}); on Debian install python3-venv, or pass --python",
                venv.display()
            );
        }
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", &format!("QuantLib=={QUANTLIB_VERSION}")])
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "`pip install QuantLib=={QUANTLIB_VERSION}` into {} failed ({status}); check network access to PyPI, or pass --python",
            venv.display()
        );
    }
    match quantlib_version(&python) {
        Some(v) if v == QUANTLIB_VERSION => Ok(python),
        Some(v) => bail!("{} has QuantLib {v}, expected {QUANTLIB_VERSION}", venv.display()),
        None => bail!("QuantLib still cannot be imported from {} after pip install", python.display()),
    }
}

/// The QuantLib version `python` imports, if any.
fn quantlib_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import QuantLib; print(QuantLib.__version__)"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let v = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !v.is_empty()).then_some(v)
}

/// Prices a workshop CSV with QuantLib's MC: per option (NPV, errorEstimate), and seconds.
pub type QuantlibWorkshop<'a> = dyn FnMut(&str) -> Result<(Vec<(f64, f64)>, f64), Failure> + 'a;

/// QuantLib's MC at the workshop's settings on a workshop CSV (no FD): per option
/// (NPV, errorEstimate), and the seconds they took.
fn quantlib_workshop(
    python: &Path,
    script: &Path,
    dir: &Path,
    csv: &str,
    version: &mut Option<String>,
) -> Result<(Vec<(f64, f64)>, f64), Failure> {
    let path = dir.join("accuracy-workshop.csv");
    std::fs::write(&path, csv).with_context(|| format!("cannot write {}", path.display()))?;
    let args = vec![
        "--case".to_string(),
        "csv".into(),
        "--csv".into(),
        path.display().to_string(),
        "--fd-grid".into(),
        "0".into(),
    ];
    let ql = run_quantlib(python, script, &args, "workshop set (accuracy)")?;
    *version = Some(ql.quantlib_version.clone());
    let seconds = ql.options.iter().map(|o| o.seconds).sum();
    Ok((ql.options.iter().map(|o| (o.price, o.std_error.unwrap_or(0.0))).collect(), seconds))
}

fn run_quantlib(python: &Path, script: &Path, script_args: &[String], what: &str) -> anyhow::Result<QlOutput> {
    eprintln!("quantlib: {what} on one thread…");
    let out = Command::new(python)
        .arg(script)
        .args(script_args)
        .env("OMP_NUM_THREADS", "1")
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!("the QuantLib script failed on {what} ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("unreadable output of the QuantLib script on {what}"))
}

/// A deterministic workshop CSV of `n` American options: spots 30–50, strikes 35–45, vols
/// 0.15–0.45, rates 0.01–0.06, maturities 0.25–2 years, about 70% puts.
pub fn generated_csv(n: usize) -> anyhow::Result<String> {
    let mut rng = SplitMix64(0x7061_7468_6772_6964); // "pathgrid"
    let today = Date::new(2024, 11, 15).map_err(|e| anyhow!(e))?;
    let settlement = Date::new(2024, 11, 17).map_err(|e| anyhow!(e))?;
    let mut out = String::with_capacity(80 * (n + 1));
    out.push_str(workshop_csv::HEADER);
    out.push('\n');
    for i in 1..=n {
        let kind = if rng.uniform() < 0.3 { "Call" } else { "Put" };
        let spot = 30.0 + 20.0 * rng.uniform();
        let strike = (2.0 * (35.0 + 10.0 * rng.uniform())).round() / 2.0;
        let rate = 0.01 + 0.05 * rng.uniform();
        let vol = 0.15 + 0.30 * rng.uniform();
        let days = (365.0 * (0.25 + 1.75 * rng.uniform())).round() as i64;
        let maturity = Date::from_days_since_epoch(settlement.days_since_epoch() + days)
            .ok_or_else(|| anyhow!("maturity out of range"))?;
        let _ =
            writeln!(out, "opt-{i:03},{today},{settlement},{kind},{spot:.2},{strike:.1},{rate:.4},{vol:.3},{maturity}");
    }
    Ok(out)
}

/// SplitMix64: a tiny deterministic generator for the generated portfolio.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// User + system CPU seconds of this process so far (all threads), from `/proc/self/stat`
/// at the usual 100 ticks per second; `None` where there is no such file.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The 1-minute load average, where the system tells it.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn fmt_opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "n/a".into(), f)
}

/// The side-by-side table for people.
pub fn table(report: &BenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pathgrid {} on {} thread(s) ({} CPUs{}){}",
        report.pathgrid_version,
        report.threads,
        report.cpus,
        report.cpu_model.as_deref().map(|m| format!(", {m}")).unwrap_or_default(),
        report.quantlib_version.as_deref().map(|v| format!(" vs QuantLib {v} on one thread")).unwrap_or_default()
    );
    if let [Some(before), Some(after)] = report.load_average {
        let _ = writeln!(out, "load average (1 min): {before:.2} before, {after:.2} after");
    }
    let label_width = report.cases.iter().flat_map(|c| &c.rows).map(|r| r.label.len()).max().unwrap_or(6).max(6);
    for case in &report.cases {
        let _ = writeln!(out, "\n[{}] {}", case.case.name(), case.description);
        let _ = writeln!(
            out,
            "{:<label_width$}  {:>10}  {:>10}  {:>10}  {:>11}  {:>8}  {:>7}  {:>10}  {:>10}  {:>9}  {:>10}",
            "engine",
            "price",
            "std_error",
            "error",
            "check",
            "seconds",
            "cpu_s",
            "Mpath-st/s",
            "efficiency",
            "ratio",
            "ratio(cpu)"
        );
        for r in &case.rows {
            let check = match (r.within, r.outside, r.options) {
                (Some(true), _, _) => "ok".to_string(),
                (Some(false), _, _) => "OUTSIDE".to_string(),
                (None, Some(k), Some(n)) => format!("{k}/{n} out"),
                _ => "n/a".to_string(),
            };
            let _ = writeln!(
                out,
                "{:<label_width$}  {:>10}  {:>10}  {:>10}  {:>11}  {:>8.3}  {:>7}  {:>10}  {:>10}  {:>9}  {:>10}",
                r.label,
                fmt_opt(r.price, |x| format!("{x:.6}")),
                fmt_opt(r.std_error, |x| format!("{x:.6}")),
                fmt_opt(r.error, |x| if r.price.is_some() { format!("{x:+.6}") } else { format!("{x:.6}") }),
                check,
                r.seconds,
                fmt_opt(r.cpu_seconds, |x| format!("{x:.2}")),
                fmt_opt(r.path_steps_per_s, |x| format!("{:.1}", x / 1e6)),
                fmt_opt(r.efficiency, |x| format!("{x:.3e}")),
                fmt_opt(r.efficiency_ratio, |x| format!("{x:.1}×")),
                fmt_opt(r.efficiency_ratio_cpu, |x| format!("{x:.1}×")),
            );
        }
        let _ = writeln!(out, "  check: {}", case.criterion);
        for note in &case.notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    let _ = writeln!(
        out,
        "\nseconds: wall clock; cpu_s: CPU time of the process over the same span\n\
         efficiency = 1 / (std_error² × seconds); ratio = efficiency / best QuantLib efficiency of the case;\n\
         ratio(cpu): the same with CPU seconds"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_csv_is_deterministic_and_parses() {
        let a = generated_csv(GENERATED_OPTIONS).unwrap_or_default();
        assert_eq!(a, generated_csv(GENERATED_OPTIONS).unwrap_or_default());
        let portfolio = workshop_csv::parse(&a, "gen", &CsvSettings::default());
        assert!(portfolio.is_ok(), "{portfolio:?}");
        if let Ok(p) = portfolio {
            assert_eq!(p.spec.instruments.len(), GENERATED_OPTIONS);
        }
    }

    #[test]
    fn comparison_counts_options_outside() {
        let prices = [(1.0, 0.001), (2.0, 0.001), (3.0, 0.1)];
        let reference = [Some(1.005), Some(2.02), None];
        let (outside, compared, rms_err) = compare(&prices, &reference);
        assert_eq!((outside, compared), (1, 2));
        assert!(rms_err.is_some_and(|e| (e - ((0.005f64.powi(2) + 0.02f64.powi(2)) / 2.0).sqrt()).abs() < 1e-12));
    }
}
