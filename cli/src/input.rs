//! Reading what the user gives `run` and `validate`: a JSON spec or a workshop CSV.

use crate::Failure;
use pathgrid_pricing::workshop_csv::{self, CsvPortfolio, CsvSettings};
use pathgrid_pricing::{Job, JobSpec, SpecErrors};
use std::path::Path;

/// Largest input file accepted; a spec is a few kilobytes, a CSV portfolio a few megabytes.
const MAX_INPUT_BYTES: u64 = 64 << 20;

#[derive(Debug)]
pub enum Input {
    Spec(JobSpec),
    Csv(CsvPortfolio),
}

impl Input {
    pub fn spec(&self) -> &JobSpec {
        match self {
            Input::Spec(s) => s,
            Input::Csv(p) => &p.spec,
        }
    }

    pub fn spec_mut(&mut self) -> &mut JobSpec {
        match self {
            Input::Spec(s) => s,
            Input::Csv(p) => &mut p.spec,
        }
    }
}

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
    let is_csv =
        path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) || workshop_csv::looks_like_workshop_csv(&text);
    if is_csv {
        let name = path.file_stem().map_or("portfolio".into(), |s| s.to_string_lossy().into_owned());
        workshop_csv::parse(&text, &name, csv).map(Input::Csv).map_err(|e| invalid(path, &e))
    } else {
        pathgrid_pricing::parse_spec(&text).map(Input::Spec).map_err(|e| invalid(path, &e))
    }
}

pub fn validate(path: &Path, input: &Input) -> Result<Job, Failure> {
    input.spec().validate().map_err(|e| invalid(path, &e))
}

fn invalid(path: &Path, e: &SpecErrors) -> Failure {
    Failure::Invalid(format!("{}: {e}", path.display()))
}
