//! An S3 event's object key as the trigger reads it: `decode_key`, then `names_for` and the
//! Batch job name. The names derived must be usable: result keys under `results/`, a job
//! name that validation accepts, a Batch name within `[A-Za-z0-9_-]{1,128}`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_fuzz::text;
use pathgrid_pricing::{JobSpec, parse_spec};
use pathgrid_trigger::{INPUT_PREFIX, RESULT_PREFIX, batch_job_name, decode_key, names_for};
use std::sync::OnceLock;

/// A valid spec whose name is replaced by each derived job name.
fn template() -> &'static Option<JobSpec> {
    static SPEC: OnceLock<Option<JobSpec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        parse_spec(
            r#"{"name":"t","paths":1000,"instruments":[{"id":"p",
              "model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
              "payoff":{"type":"put","strike":40},
              "exercise":{"style":"bermudan","maturity":1,"steps":4}}]}"#,
        )
        .ok()
    })
}

fn check(key: &str) {
    let batch = batch_job_name("bucket", key, "\"etag\"");
    assert!(
        (1..=128).contains(&batch.len()) && batch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "Batch job name {batch:?} for key {key:?}"
    );
    let Some(names) = names_for(key) else { return };
    assert!(key.starts_with(INPUT_PREFIX));
    for k in [&names.json_result_key, &names.csv_result_key, &names.error_key] {
        assert!(k.starts_with(RESULT_PREFIX), "result key {k:?} for {key:?}");
    }
    if let Some(spec) = template() {
        let mut spec = spec.clone();
        spec.name = names.job_name.clone();
        let checked = spec.validate();
        assert!(checked.is_ok(), "job name {:?} from key {key:?} is refused: {checked:?}", names.job_name);
    }
}

fuzz_target!(|data: &[u8]| {
    let raw = text(data);
    if let Ok(key) = decode_key(&raw) {
        check(&key);
    }
    check(&raw);
});
