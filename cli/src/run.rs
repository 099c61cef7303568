//! `pathgrid run` and `pathgrid validate`.

use crate::input::{self, Input};
use crate::{Failure, cluster_cmd, output, progress};
use anyhow::Context;
use clap::Args;
use pathgrid_pricing::workshop_csv::{self, CsvSettings};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job spec (JSON) or workshop-format CSV portfolio.
    pub spec: PathBuf,
    /// Print exactly one JSON result document on stdout (logs and progress go to stderr).
    #[arg(long)]
    pub json: bool,
    /// In-process nodes of the embedded cluster, at least 1 (default: one per core).
    #[arg(long, value_parser = crate::at_least_one)]
    pub nodes: Option<usize>,
    /// Write the result here: JSON for a spec, the priced CSV for a CSV portfolio.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Pricing paths per instrument (overrides the spec; CSV default 20000).
    #[arg(long)]
    pub paths: Option<u64>,
    /// Exercise dates per year for CSV rows, 1 to 100000 (at least 10 per option, at most
    /// 100000 per option). Without it the engine picks the dates and extrapolates to
    /// continuous exercise (American options). CSV input only: a JSON spec sets
    /// `exercise.steps` per instrument.
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=workshop_csv::MAX_STEPS))]
    pub steps: Option<u64>,
    /// Random seed (overrides the spec; CSV default 42).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Job spec (JSON) or workshop-format CSV portfolio.
    pub spec: PathBuf,
}

fn csv_settings(args: &RunArgs) -> CsvSettings {
    let mut s = CsvSettings::default();
    if let Some(p) = args.paths {
        s.paths = p;
    }
    if let Some(n) = args.steps {
        s.steps_per_year = n;
    }
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    s
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let mut input = input::load(&args.spec, &csv_settings(&args))?;
    if let (Input::Spec(_), Some(_)) = (&input, args.steps) {
        return Err(Failure::Invalid(format!(
            "--steps applies to workshop CSV input only; {} is a JSON spec: set exercise.steps per instrument",
            args.spec.display()
        )));
    }
    if let Some(path) = &args.output {
        output::check_writable(path)?;
    }
    if let Input::Spec(spec) = &mut input {
        if let Some(p) = args.paths {
            spec.paths = p;
            spec.training_paths = None;
        }
        if let Some(seed) = args.seed {
            spec.seed = seed;
        }
    }
    let job = input::validate(&args.spec, &input)?;
    let nodes = args.nodes.unwrap_or_else(crate::cores);
    let bar = progress::bar(args.quiet, 0, &job.name);
    let spec = input.spec().clone();
    let outcome =
        cluster_cmd::runtime()?.block_on(crate::embedded::run_embedded(spec, nodes, |p| progress::update(&bar, &p)));
    bar.finish_and_clear();
    let result = outcome.map_err(cluster_cmd::failure)?;

    if let Some(path) = &args.output {
        let text = match &input {
            Input::Csv(portfolio) => workshop_csv::write_results(portfolio, &result.results).context("writing CSV")?,
            Input::Spec(_) => output::json(&result)?,
        };
        output::write_or_print(path, &text)?;
    }
    if args.json {
        println!("{}", output::json(&result)?);
    } else {
        print!("{}", output::table(&result));
    }
    Ok(())
}

pub fn validate(args: ValidateArgs) -> Result<(), Failure> {
    let input = input::load(&args.spec, &CsvSettings::default())?;
    let job = input::validate(&args.spec, &input)?;
    println!(
        "{}: valid — job {:?}, {} instrument(s) run as {} legs, {} pricing + {} training paths, {:.3e} path-steps",
        args.spec.display(),
        job.name,
        job.outputs.len(),
        job.instruments.len(),
        job.settings.paths,
        job.settings.training_paths,
        job.path_steps() as f64
    );
    Ok(())
}
