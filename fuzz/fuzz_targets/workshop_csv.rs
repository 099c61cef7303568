//! A workshop CSV portfolio as the CLI and the trigger read it (`workshop_csv::parse`), under
//! the default settings and under extreme ones; what parses must validate and write back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_fuzz::{check_spec, text};
use pathgrid_pricing::workshop_csv::{self, CsvSettings};
use pathgrid_pricing::{InstrumentResult, JobSpec};

fuzz_target!(|data: &[u8]| {
    let text = text(data);
    let _ = workshop_csv::looks_like_workshop_csv(&text);
    let extreme = CsvSettings {
        paths: u64::MAX,
        training_paths: Some(u64::MAX),
        steps_per_year: u64::MAX,
        min_steps: u64::MAX,
        seed: u64::MAX,
        batch_size: Some(u64::MAX),
    };
    let stepped = CsvSettings { steps_per_year: 52, min_steps: 10, ..CsvSettings::default() };
    for settings in [CsvSettings::default(), stepped, extreme] {
        let Ok(portfolio) = workshop_csv::parse(&text, "portfolio", &settings) else { continue };
        let spec: &JobSpec = &portfolio.spec;
        assert_eq!(portfolio.rows.len(), spec.instruments.len(), "one instrument per row");
        let validated = spec.validate();
        assert!(validated.is_ok(), "a parsed portfolio does not validate: {validated:?}");
        check_spec(spec);
        // The result CSV: one line per row after the header.
        let results: Vec<InstrumentResult> = spec
            .instruments
            .iter()
            .map(|i| InstrumentResult {
                id: i.id.clone(),
                price: 1.0,
                std_error: 0.01,
                ci95: [0.98, 1.02],
                european_price: 1.0,
                early_exercise_premium: 0.0,
                exercise_boundary: None,
                accuracy: None,
                lower_bound: None,
                upper_bound: None,
            })
            .collect();
        let written = workshop_csv::write_results(&portfolio, &results);
        assert!(written.is_ok(), "results of a parsed portfolio are refused: {written:?}");
        if let Ok(out) = written {
            assert_eq!(out.lines().count(), portfolio.rows.len() + 1, "result CSV line count");
        }
    }
});
