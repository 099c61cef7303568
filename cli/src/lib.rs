//! The `pathgrid` command line as a library: the binary is a thin shell around [`main`],
//! and integration tests call the runners directly.

pub mod aws_cmd;
pub mod bench;
pub mod cluster_cmd;
pub mod embedded;
pub mod input;
pub mod local_runner;
pub mod output;
pub mod progress;
pub mod run;
pub mod security;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Prices American, Bermudan and basket options by Longstaff–Schwartz Monte Carlo,
/// on one machine or a cluster.
#[derive(Debug, Parser)]
#[command(name = "pathgrid", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Price a job spec (JSON) or a workshop CSV portfolio on this machine.
    Run(run::RunArgs),
    /// Check a job spec or workshop CSV and print every problem found.
    Validate(run::ValidateArgs),
    /// Benchmark pathgrid, and with --vs quantlib QuantLib, side by side on the same problems.
    Bench(bench::BenchArgs),
    /// Run a coordinator: accepts jobs from clients and hands batches to nodes.
    Coordinator(cluster_cmd::CoordinatorArgs),
    /// Run a worker node that attaches to a coordinator.
    Node(cluster_cmd::NodeArgs),
    /// Submit a job spec or workshop CSV to a coordinator (prints the job id, or follows it with --watch).
    Submit(cluster_cmd::SubmitArgs),
    /// Follow a submitted job until it ends and print its result.
    Watch(cluster_cmd::WatchArgs),
    /// List the jobs a coordinator knows.
    Jobs(cluster_cmd::ListArgs),
    /// List the nodes attached to a coordinator.
    Nodes(cluster_cmd::ListArgs),
    /// Cancel a job.
    Cancel(cluster_cmd::CancelArgs),
    /// Watch a bucket's inputs/ and price new files into results/ (the S3 trigger outside Lambda).
    TriggerWatch(aws_cmd::TriggerWatchArgs),
    /// Entrypoint of an AWS Batch multi-node parallel job (configured by environment variables).
    Batch(aws_cmd::BatchArgs),
}

/// Cores of this machine, the default worker count.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A count that must be at least 1 (clap reports the error and exits 2).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("expected a whole number: {e}")),
    }
}

/// Logs go to stderr: `PATHGRID_LOG` (or `RUST_LOG`) sets the filter, `PATHGRID_LOG_FORMAT=json`
/// switches to one JSON object per line. Servers log at info by default, clients at warn.
fn init_logging(server: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if server { "info" } else { "warn" };
    let filter = std::env::var("PATHGRID_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if std::env::var("PATHGRID_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// How a command failed: invalid input exits 2, anything else 1.
#[derive(Debug)]
pub enum Failure {
    Invalid(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(
        cli.command,
        Command::Coordinator(_) | Command::Node(_) | Command::TriggerWatch(_) | Command::Batch(_)
    ));
    let outcome = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => run::validate(args),
        Command::Bench(args) => bench::run(args),
        Command::Coordinator(args) => cluster_cmd::coordinator(args),
        Command::Node(args) => cluster_cmd::node(args),
        Command::Submit(args) => cluster_cmd::submit(args),
        Command::Watch(args) => cluster_cmd::watch(args),
        Command::Jobs(args) => cluster_cmd::jobs(args),
        Command::Nodes(args) => cluster_cmd::nodes(args),
        Command::Cancel(args) => cluster_cmd::cancel(args),
        Command::TriggerWatch(args) => aws_cmd::trigger_watch(args),
        Command::Batch(args) => aws_cmd::batch(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
