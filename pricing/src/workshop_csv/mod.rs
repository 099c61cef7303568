//! The workshop CSV: the portfolio format of the AWS workshop this project grew from
//! (README, "Workshop CSV"; docs/ARCHITECTURE.md).
//!
//! ```text
//! id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate
//! opt-1,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025
//! ```
//!
//! Each data row becomes one American [`InstrumentSpec`](crate::spec::InstrumentSpec) on a
//! single GBM asset without dividends, exercisable from `settlementDate` to `maturityDate`;
//! its maturity in years is Actual/365 from settlement to maturity. Simulation settings come
//! from [`CsvSettings`].
//!
//! Parsing is tolerant about presentation (UTF-8 BOM, `\r\n`, blank lines, whitespace
//! around cells, double-quoted cells, `put`/`PUT`) and strict about content: every bad cell
//! is reported as `row N, column name` (N counts data rows from 1, blank lines not counted),
//! all problems at once. Nothing here panics, whatever the input.
//!
//! The parts: [`parse`] and [`looks_like_workshop_csv`] read rows (`read.rs`) split into
//! cells by the `csv` crate's reader (`cells.rs`); problems are collected per row and
//! column (`issues.rs`); [`write_results`] writes the result CSV (`write.rs`); [`Date`] is
//! the calendar (`date.rs`).

mod cells;
mod date;
mod issues;
mod read;
mod write;

pub use date::Date;
pub use read::{looks_like_workshop_csv, parse};
pub use write::write_results;

use crate::spec::JobSpec;

/// The columns of the workshop CSV, in order.
pub const COLUMNS: [&str; 9] = [
    "id",
    "todaysDate",
    "settlementDate",
    "optionType",
    "underlying",
    "strike",
    "riskFreeRate",
    "volatility",
    "maturityDate",
];

/// The header line of the workshop CSV.
pub const HEADER: &str =
    "id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate";

/// Most data rows in one file.
pub const MAX_ROWS: usize = 100_000;

/// Most exercise dates per option, whatever the settings.
pub const MAX_STEPS: u64 = crate::validate::MAX_DATES;

/// Problems reported in detail; further ones are only counted.
pub const MAX_ISSUES: usize = 100;

/// Simulation settings for a CSV portfolio (the CSV itself only describes the options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CsvSettings {
    pub paths: u64,
    pub training_paths: Option<u64>,
    /// Exercise dates per year of maturity (rounded up per option). 0, the default, lets the
    /// engine pick the dates of these American options (continuous exercise, see
    /// `crate::plan`); otherwise each option gets `max(min_steps, ceil(T × steps_per_year))`.
    pub steps_per_year: u64,
    /// Fewest exercise dates per option when `steps_per_year` is set.
    pub min_steps: u64,
    pub seed: u64,
    pub batch_size: Option<u64>,
}

impl Default for CsvSettings {
    fn default() -> Self {
        CsvSettings {
            paths: 20_000,
            training_paths: None,
            steps_per_year: 0,
            min_steps: 10,
            seed: 42,
            batch_size: None,
        }
    }
}

impl CsvSettings {
    /// Exercise dates for an option of `days` (Actual/365) to maturity:
    /// `max(min_steps, ceil(days / 365 × steps_per_year))`; `None` (the engine's choice) when
    /// `steps_per_year` is 0. Not capped: validation refuses more than [`MAX_STEPS`] and
    /// names the row, rather than pricing other dates than those asked for.
    /// Computed in integers, so a whole number of years gives exactly `years × steps_per_year`.
    pub fn steps_for_days(&self, days: i64) -> Option<u64> {
        if self.steps_per_year == 0 {
            return None;
        }
        let days = u128::try_from(days.max(0)).unwrap_or(0);
        let per_year = u128::from(self.steps_per_year);
        let from_rate = (days * per_year).div_ceil(365);
        let steps = from_rate.max(u128::from(self.min_steps.max(1)));
        Some(u64::try_from(steps).unwrap_or(u64::MAX))
    }
}

/// A parsed portfolio: the job to run plus what is needed to write the result CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvPortfolio {
    /// The header line as given (without BOM and line ending).
    pub header: String,
    /// The data rows as given, without line ending, in input order (blank lines dropped).
    pub rows: Vec<String>,
    /// One instrument per row, in row order.
    pub spec: JobSpec,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_rule() {
        assert_eq!(CsvSettings::default().steps_for_days(365), None, "the engine picks by default");
        let s = CsvSettings { steps_per_year: 50, ..CsvSettings::default() };
        assert_eq!(s.steps_for_days(365), Some(50));
        assert_eq!(s.steps_for_days(730), Some(100));
        assert_eq!(s.steps_for_days(91), Some(13)); // ceil(12.47)
        assert_eq!(s.steps_for_days(73), Some(10)); // exactly 10, no rounding up from 10.000…01
        assert_eq!(s.steps_for_days(1), Some(10)); // min_steps
        let fine = CsvSettings { steps_per_year: u64::MAX, ..s };
        assert_eq!(fine.steps_for_days(36_500), Some(u64::MAX), "not capped: validation refuses it");
    }
}
