//! What a user hands in: a JSON spec or a workshop CSV, told apart in one place for every
//! entry point (`pathgrid run`/`validate`/`submit`, the S3 trigger, `pathgrid batch`).

use crate::SpecErrors;
use crate::spec::JobSpec;
use crate::workshop_csv::{self, CsvPortfolio, CsvSettings};

/// A parsed input: a spec, or a CSV portfolio (which keeps its rows for the result CSV).
#[derive(Debug, Clone, PartialEq)]
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

/// Parses `text` as a workshop CSV when its name says so (`named_csv`: a `.csv` extension, in
/// any case) or its first line is the workshop header, and as a JSON spec otherwise. `name`
/// names a CSV portfolio's job (a spec carries its own name); `csv` are the CSV's job settings.
pub fn parse_input(text: &str, named_csv: bool, name: &str, csv: &CsvSettings) -> Result<Input, SpecErrors> {
    if named_csv || workshop_csv::looks_like_workshop_csv(text) {
        workshop_csv::parse(text, name, csv).map(Input::Csv)
    } else {
        crate::parse_spec(text).map(Input::Spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate\n\
                       opt-001,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025\n";

    #[test]
    fn tells_csv_by_name_or_header() {
        let settings = CsvSettings::default();
        let by_header = parse_input(CSV, false, "book", &settings);
        assert!(matches!(&by_header, Ok(Input::Csv(p)) if p.spec.name == "book"), "{by_header:?}");
        // Named .csv, the text is read as CSV even without the header: the CSV reader's message.
        let by_name = parse_input("{}", true, "book", &settings);
        assert!(by_name.is_err_and(|e| e.to_string().contains("expected the columns")));
        let spec = parse_input("{}", false, "book", &settings);
        assert!(spec.is_err_and(|e| !e.to_string().contains("expected the columns")));
    }
}
