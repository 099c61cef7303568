//! The generated workshop CSV of the `csv` case (`--write-csv` writes it; `bench/workshop-100.csv`
//! is its output, byte for byte).

use anyhow::anyhow;
use pathgrid_pricing::rng::splitmix64;
use pathgrid_pricing::workshop_csv::{self, Date};
use std::fmt::Write as _;

/// Options in the generated workshop CSV.
pub const GENERATED_OPTIONS: usize = 100;

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

/// SplitMix64 (the pricing crate's seed mixer) as a plain sequence of uniforms.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (splitmix64(&mut self.0) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pathgrid_pricing::workshop_csv::CsvSettings;

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

    /// The published bench results were computed on this file: the generator must keep it.
    #[test]
    fn generated_csv_is_the_checked_in_one() {
        let checked_in = include_str!("../../../bench/workshop-100.csv");
        assert!(generated_csv(GENERATED_OPTIONS).is_ok_and(|g| g == checked_in));
    }
}
