//! Presenting results: one JSON document, or a table for people.

use pathgrid_pricing::JobResult;
use std::fmt::Write;

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
