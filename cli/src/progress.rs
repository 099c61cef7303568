//! Progress on stderr: a bar with phase, batches and ETA (hidden when stderr is not a
//! terminal, so logs and pipes stay clean).

use indicatif::{ProgressBar, ProgressStyle};
use pathgrid_coordinator::Progress;

pub fn bar(quiet: bool, len: u64, message: &str) -> ProgressBar {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(len) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} batches, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

pub fn update(bar: &ProgressBar, p: &Progress) {
    bar.set_length(p.batches_total);
    bar.set_position(p.batches_done);
    let phase = p.phase.name();
    // A book shows how many of its options are finished; one option shows its date.
    let detail = match p.date {
        _ if p.instruments_total > 1 => format!(" ({}/{} options done)", p.instruments_done, p.instruments_total),
        Some(date) => format!(" (date {date})"),
        None => String::new(),
    };
    bar.set_message(format!("{} {phase}{detail}", p.name));
}

pub fn to_json(p: &Progress) -> serde_json::Value {
    serde_json::json!({
        "job_id": p.job_id,
        "name": p.name,
        "phase": p.phase.name(),
        "batches_done": p.batches_done,
        "batches_total": p.batches_total,
        "instruments_done": p.instruments_done,
        "instruments_total": p.instruments_total,
        "elapsed_s": p.elapsed.as_secs_f64(),
        "eta_s": p.eta.map(|d| d.as_secs_f64()),
        "error": p.error,
    })
}
