//! Reading what the user gives `run` and `validate`: a JSON spec or a workshop CSV.

use crate::Failure;
use pathgrid_pricing::workshop_csv::CsvSettings;
use pathgrid_pricing::{Job, SpecErrors, parse_input};
use std::path::Path;

pub use pathgrid_pricing::Input;

/// Largest input file accepted; a spec is a few kilobytes, a CSV portfolio a few megabytes.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads and parses a spec file. Structural problems are reported as invalid input.
pub fn load(path: &Path, csv: &CsvSettings) -> Result<Input, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > MAX_INPUT_BYTES {
        return Err(Failure::Invalid(format!(
            "{} is {} bytes, over the {MAX_INPUT_BYTES}-byte limit for a spec",
            path.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Failure::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let text =
        String::from_utf8(bytes).map_err(|e| Failure::Invalid(format!("{} is not UTF-8 text: {e}", path.display())))?;
    let named_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let name = path.file_stem().map_or("portfolio".into(), |s| s.to_string_lossy().into_owned());
    parse_input(&text, named_csv, &name, csv).map_err(|e| invalid(path, &e))
}

pub fn validate(path: &Path, input: &Input) -> Result<Job, Failure> {
    input.spec().validate().map_err(|e| invalid(path, &e))
}

fn invalid(path: &Path, e: &SpecErrors) -> Failure {
    Failure::Invalid(format!("{}: {e}", path.display()))
}
