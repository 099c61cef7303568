//! Keys and names: decoding event keys, result keys, Batch job names.

use crate::{INPUT_PREFIX, RESULT_PREFIX};
use fnv::FnvHasher;
use pathgrid_pricing::validate::MAX_NAME_BYTES;
use pathgrid_store::safe_name;
use percent_encoding::percent_decode_str;
use std::hash::Hasher;

/// Decodes an S3 event key: `+` is a space, `%xx` a byte; the result must be UTF-8.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| format!("key {raw:?} does not decode to UTF-8"))
}

/// Names derived from an input key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `results/<name>.json`
    pub json_result_key: String,
    /// `results/<name>.csv`
    pub csv_result_key: String,
    /// `results/<name>.error.json`
    pub error_key: String,
    /// Job name for a CSV portfolio: the file name without extension.
    pub job_name: String,
    /// The key ends in `.csv` (any case).
    pub is_csv: bool,
}

/// The names for an input key, or `None` when the key is not a file under `inputs/`.
/// `<name>` is the key after `inputs/` without its extension (`inputs/a/b c.json` → `a/b c`).
pub fn names_for(key: &str) -> Option<Names> {
    let rel = key.strip_prefix(INPUT_PREFIX)?;
    if rel.is_empty() || rel.ends_with('/') {
        return None;
    }
    let (dir, file) = rel.rsplit_once('/').map_or(("", rel), |(d, f)| (d, f));
    let (stem, ext) = match file.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, e),
        _ => (file, ""),
    };
    let name = if dir.is_empty() { stem.to_string() } else { format!("{dir}/{stem}") };
    // As much of the stem as a spec name may hold (validation counts bytes, not characters).
    let mut job_name = String::new();
    for c in stem.chars().filter(|c| !c.is_control() && *c != '\\') {
        if job_name.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        job_name.push(c);
    }
    let job_name = if job_name.trim().is_empty() { "portfolio".to_string() } else { job_name };
    Some(Names {
        json_result_key: format!("{RESULT_PREFIX}{name}.json"),
        csv_result_key: format!("{RESULT_PREFIX}{name}.csv"),
        error_key: format!("{RESULT_PREFIX}{name}.error.json"),
        job_name,
        is_csv: ext.eq_ignore_ascii_case("csv"),
    })
}

/// FNV-1a, 64 bits, of the parts each followed by a NUL: a stable hash (unlike
/// `DefaultHasher`, fixed across Rust versions), since job names must not change.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h = FnvHasher::default();
    for part in parts {
        h.write(part.as_bytes());
        h.write(&[0]);
    }
    h.finish()
}

/// The Batch job name for an input: `pathgrid-<readable part of the key>-<hash of
/// bucket, key and ETag>`, within Batch's `[A-Za-z0-9_-]{1,128}`. The same object (same ETag)
/// always gives the same name; another upload of the key gives another.
pub fn batch_job_name(bucket: &str, key: &str, etag: &str) -> String {
    let etag = etag.trim_matches('"');
    let hash = fnv1a(&[bucket, key, etag]);
    let readable = key.strip_prefix(INPUT_PREFIX).unwrap_or(key);
    let readable = readable.rsplit_once('.').map_or(readable, |(s, _)| s);
    format!("pathgrid-{}-{hash:016x}", safe_name(readable, 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_percent_and_unicode() {
        assert_eq!(decode_key("inputs/my+spec%2B1.json").unwrap(), "inputs/my spec+1.json");
        assert_eq!(decode_key("inputs/pr%C3%A9vision.json").unwrap(), "inputs/prévision.json");
        assert!(decode_key("inputs/%FF.json").is_err());
    }

    #[test]
    fn derives_result_names() {
        let n = names_for("inputs/desk a/book.v2.json").unwrap();
        assert_eq!(n.json_result_key, "results/desk a/book.v2.json");
        assert_eq!(n.error_key, "results/desk a/book.v2.error.json");
        assert!(!n.is_csv);
        let n = names_for("inputs/port.CSV").unwrap();
        assert_eq!(n.csv_result_key, "results/port.csv");
        assert_eq!(n.job_name, "port");
        assert!(n.is_csv);
        assert!(names_for("results/x.json").is_none());
        assert!(names_for("inputs/").is_none());
        assert!(names_for("inputs/dir/").is_none());
    }

    #[test]
    fn job_names_of_long_non_ascii_keys_are_valid_spec_names() {
        // Found by the trigger_key fuzz target: 128 characters of 3 bytes each made a name
        // that validation refused, so the whole portfolio failed over its file name.
        for c in ["é", "日", "\u{fffd}", "a"] {
            let key = format!("inputs/{}.csv", c.repeat(300));
            let name = names_for(&key).unwrap().job_name;
            assert!(!name.is_empty() && name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
            let spec = pathgrid_pricing::parse_spec(&format!(
                r#"{{"name":{name:?},"paths":1000,"instruments":[{{"id":"p",
                  "model":{{"type":"gbm","spot":36,"vol":0.2,"rate":0.06}},
                  "payoff":{{"type":"put","strike":40}},
                  "exercise":{{"style":"bermudan","maturity":1,"steps":4}}}}]}}"#
            ))
            .unwrap();
            assert!(spec.validate().is_ok(), "{name}");
        }
    }

    #[test]
    fn job_names_are_valid_and_stable() {
        let a = batch_job_name("b", "inputs/big book é+.json", "\"abc\"");
        assert_eq!(a, batch_job_name("b", "inputs/big book é+.json", "abc"));
        assert_ne!(a, batch_job_name("b", "inputs/big book é+.json", "abd"));
        // Names are object keys of markers and Batch job names: pinned, they must never change.
        assert_eq!(a, "pathgrid-big_book___-75cec87e50129975");
        let long = batch_job_name("b", &format!("inputs/{}.json", "x".repeat(500)), "e");
        for name in [a, long] {
            assert!((1..=128).contains(&name.len()), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{name}");
        }
    }
}
