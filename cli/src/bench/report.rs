//! The bench's report: the JSON document (`--json`, `--output`) and the table for people, with
//! the statistics shared by the cases (rms, efficiency and its ratios).

use super::Case;
use serde::Serialize;
use std::fmt::Write as _;

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

/// Root mean square; none without values.
pub(super) fn rms(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = values.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x * x));
    (n > 0).then(|| (sum / n as f64).sqrt())
}

/// 1 / (std_error² × seconds): the inverse of the time needed for a unit variance.
pub(super) fn efficiency(std_error: f64, seconds: f64) -> Option<f64> {
    (std_error > 0.0 && seconds > 0.0).then(|| 1.0 / (std_error * std_error * seconds))
}

/// Every row's CPU-time efficiency, and both efficiencies over the best QuantLib one of the case.
pub(super) fn fill_ratios(rows: &mut [Row]) {
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

pub(super) fn fmt_opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
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
