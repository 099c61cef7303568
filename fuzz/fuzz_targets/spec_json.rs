//! A JSON job spec as `pathgrid run`/`validate` and the trigger read it: `parse_spec`, then
//! validation, on any bytes (non-UTF-8 included, decoded lossily).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_fuzz::{check_spec, text};
use pathgrid_pricing::parse_spec;

fuzz_target!(|data: &[u8]| {
    let text = text(data);
    let Ok(spec) = parse_spec(&text) else { return };
    // What parses serializes to JSON that parses to the same spec.
    let json = serde_json::to_string(&spec);
    assert!(json.is_ok(), "a parsed spec does not serialize: {json:?}");
    if let Ok(json) = json {
        assert_eq!(parse_spec(&json).as_ref(), Ok(&spec), "JSON round trip changed the spec: {json}");
    }
    check_spec(&spec);
});
