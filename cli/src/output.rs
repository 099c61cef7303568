//! Presenting results: one JSON document, or a table for people.

use crate::Failure;
use anyhow::anyhow;
use pathgrid_protocol::JobResult;
use std::fmt::Write;
use std::path::Path;

/// Checks, before any pricing, that `path` can be written: opens it for writing without
/// truncating it, and removes it again if it did not exist. A missing directory or a
/// read-only place is invalid input, found in a second rather than after the whole job.
pub fn check_writable(path: &Path) -> Result<(), Failure> {
    let existed = path.exists();
    if path.is_dir() {
        return Err(Failure::Invalid(format!("--output {}: is a directory", path.display())));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Failure::Invalid(format!("--output {}: cannot write there: {e}", path.display())))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Writes a finished result to `path`. If that still fails (the disk filled up, the
/// directory went away), the result goes to stdout so it is not lost, and the command fails
/// with the reason.
pub fn write_or_print(path: &Path, text: &str) -> Result<(), Failure> {
    match std::fs::write(path, text) {
        Ok(()) => Ok(()),
        Err(e) => {
            println!("{text}");
            Err(Failure::Other(anyhow!("cannot write {}: {e}; the result is printed above instead", path.display())))
        }
    }
}

pub fn json(result: &JobResult) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(result)?)
}

pub fn table(result: &JobResult) -> String {
    let mut out = String::new();
    let id_width = result.results.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    let _ = writeln!(
        out,
        "{:<id_width$}  {:>12}  {:>10}  {:>25}  {:>12}  {:>10}",
        "id", "price", "std_error", "95% interval", "european", "premium"
    );
    for r in &result.results {
        let _ = writeln!(
            out,
            "{:<id_width$}  {:>12.6}  {:>10.6}  {:>25}  {:>12.6}  {:>10.6}",
            r.id,
            r.price,
            r.std_error,
            format!("[{:.5}, {:.5}]", r.ci95[0], r.ci95[1]),
            r.european_price,
            r.early_exercise_premium
        );
    }
    let s = &result.stats;
    let rate = s.path_steps as f64 / s.elapsed_s.max(1e-9);
    let _ = writeln!(
        out,
        "{}: {} instrument(s), {} + {} paths, {:.3e} path-steps in {:.3} s ({:.1}M path-steps/s) on {} worker(s), seed {}",
        result.name,
        result.results.len(),
        s.paths,
        s.training_paths,
        s.path_steps as f64,
        s.elapsed_s,
        rate / 1e6,
        s.nodes,
        s.seed
    );
    out
}
