//! The `pathgrid` command line as a library: the binary is a thin shell around [`main`],
//! and integration tests call the runners directly.

pub mod input;
pub mod local_runner;
pub mod output;
pub mod run;

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
    let outcome = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => run::validate(args),
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
