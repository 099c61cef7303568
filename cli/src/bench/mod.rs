//! `pathgrid bench`: pathgrid — and with `--vs quantlib` QuantLib — on the same problems, side by
//! side, in one run.
//!
//! Cases:
//! - `ls2001`: the Longstaff–Schwartz (2001) put (S=36, K=40, σ=0.2, T=1, r=0.06) as a
//!   Bermudan on 50 exercise dates, as QuantLib's engine prices it, against the
//!   finite-difference Bermudan value 4.4778;
//! - `csv`: a workshop-format CSV portfolio (a generated 100-option one unless `--csv`), each
//!   option against a finite-difference value computed by the QuantLib script (none without
//!   QuantLib);
//! - `european`: the same put with European exercise against Black–Scholes;
//! - `accuracy`: interval coverage, errors and widths on the reference sets
//!   ([`accuracy`]).
//!
//! pathgrid runs in process through [`local_runner::run_job`] (one thread unless `--threads`).
//! QuantLib runs through `bench/quantlib_bench.py` (compiled into the binary) in a venv under
//! `$HOME/.cache/pathgrid/quantlib-venv`, created on first use. Efficiency is
//! `1 / (std_error² × seconds)`: the inverse of the time needed for a unit variance.
//!
//! One concern per file: `single` (ls2001, european), `portfolio` (csv), [`accuracy`],
//! `quantlib` (the venv and the script), `generate` (the generated CSV), `report` (the JSON
//! report and the table), `machine` (what `/proc` tells about the machine).

pub mod accuracy;
mod generate;
mod machine;
mod portfolio;
mod quantlib;
mod report;
mod single;

pub use generate::{GENERATED_OPTIONS, generated_csv};
pub use quantlib::{QUANTLIB_VERSION, QuantlibWorkshop};
pub use report::{BenchReport, CaseReport, OptionRow, Row, table};
pub use single::LS2001_BERMUDAN_FD;

use crate::{Failure, local_runner};
use anyhow::Context;
use clap::{Args, ValueEnum};
use pathgrid_pricing::spec::BasisKind;
use pathgrid_pricing::{InstrumentResult, Job};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

const SEED: u64 = 42;

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
    /// Interval coverage and errors on the reference sets ([`accuracy`]).
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
    let ql = match args.vs {
        Some(Versus::Quantlib) => Some(quantlib::set_up(args.python.as_deref(), &work.0)?),
        None => None,
    };

    let mut report = BenchReport {
        pathgrid_version: env!("CARGO_PKG_VERSION"),
        threads: args.threads,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: machine::cpu_model(),
        quantlib_version: None,
        load_average: [machine::load_average(), None],
        cases: Vec::new(),
    };
    for case in cases {
        let case_report = match case {
            Case::Ls2001 => single::bench(&args, false, ql.as_ref(), &mut report.quantlib_version)?,
            Case::European => single::bench(&args, true, ql.as_ref(), &mut report.quantlib_version)?,
            Case::Csv => portfolio::bench(&args, &csv_path, ql.as_ref(), &mut report.quantlib_version)?,
            Case::Accuracy => {
                let version = &mut report.quantlib_version;
                let dir = &work.0;
                let mut workshop = ql.as_ref().map(|ql| move |csv: &str| quantlib::workshop(ql, dir, csv, version));
                accuracy::bench(args.paths, args.threads, workshop.as_mut().map(|f| f as &mut QuantlibWorkshop))?
            }
        };
        report.cases.push(case_report);
    }

    report.load_average[1] = machine::load_average();
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

/// Runs `job` in process on `threads` threads, timing it.
fn run_pathgrid(job: &Job, threads: usize, what: &str) -> anyhow::Result<PgRun> {
    eprintln!("pathgrid: {what} on {threads} thread(s)…");
    let cpu = machine::cpu_seconds();
    let started = Instant::now();
    let results = local_runner::run_job(job, threads, &|_| {}).with_context(|| format!("pathgrid failed on {what}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu.zip(machine::cpu_seconds()).map(|(a, b)| b - a);
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
