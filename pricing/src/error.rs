//! Errors of the pricing library.

use std::fmt;

/// One problem in a spec, located by its JSON path (e.g. `instruments[0].model.spot`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIssue {
    pub path: String,
    pub message: String,
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Every problem found in a spec; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecIssue>);

impl SpecErrors {
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecErrors(vec![SpecIssue { path: path.into(), message: message.into() }])
    }

    pub fn issues(&self) -> &[SpecIssue] {
        &self.0
    }

    /// True when some issue names exactly this JSON path.
    pub fn mentions(&self, path: &str) -> bool {
        self.0.iter().any(|i| i.path == path)
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "invalid spec ({n} problem{}):", if n == 1 { "" } else { "s" })?;
        for issue in &self.0 {
            write!(f, "\n  - {issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Errors of the batch-level API: these mean a caller passed inconsistent data
/// (e.g. a coefficient vector of the wrong length from a corrupted message).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecErrors),
    #[error("batch {batch} out of range: the {phase} phase has {batches} batches")]
    BatchOutOfRange { phase: &'static str, batch: u64, batches: u64 },
    #[error("instrument {instrument} out of range: the job has {instruments} instruments")]
    InstrumentOutOfRange { instrument: usize, instruments: usize },
    #[error("exercise date {date} out of range: the instrument has {dates} dates")]
    DateOutOfRange { date: usize, dates: usize },
    #[error("coefficient vector has {got} entries, the basis has {expected}")]
    CoefficientLength { got: usize, expected: usize },
    #[error("regression statistics of dimension {got} do not match the basis size {expected}")]
    StatsDimension { got: usize, expected: usize },
    #[error("statistics of {got} samples from a batch of {paths} paths")]
    SampleCount { got: u64, paths: u64 },
    #[error("exercise policy covers {got} dates, the instrument needs {expected}")]
    PolicyLength { got: usize, expected: usize },
    /// A batch's sums left the range of f64. Validation bounds magnitudes so that this
    /// cannot happen; if it does, the job fails with this reason rather than retrying.
    #[error(
        "instrument {instrument:?}: the {phase} statistics of batch {batch} are not finite \
         (its values overflow the range of f64)"
    )]
    NonFinite { instrument: String, phase: &'static str, batch: u64 },
    #[error("no pricing batches were merged")]
    NoSamples,
    /// `workshop_csv::write_results` was given results that are not the portfolio's.
    #[error("workshop CSV: {results} results and {instruments} instruments for {rows} rows")]
    CsvCounts { results: usize, instruments: usize, rows: usize },
    #[error("workshop CSV: result {row} is for {result:?}, but row {row} holds {instrument:?}")]
    CsvRowMismatch { row: usize, result: String, instrument: String },
    /// The CSV writer of `workshop_csv::write_results` failed (it writes to memory).
    #[error("workshop CSV: writing the result: {message}")]
    CsvWrite { message: String },
}
