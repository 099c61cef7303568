//! The checkpoint format: job state written at phase boundaries so a restarted coordinator
//! resumes its unfinished jobs instead of starting over.
//!
//! A stored checkpoint is one header line and the payload, the JSON of [`Checkpoint`]:
//!
//! ```text
//! pathgrid-checkpoint 4 sha256=<64 hex digits> bytes=<payload length>
//! {"version":4,"job_id":"…",…}
//! ```
//!
//! The digest covers the exact payload bytes. [`decode`] refuses anything that does not
//! verify (a truncated write, a flipped bit, an edited number), so a checkpoint's contents
//! are never trusted as read. The digest detects corruption and edits; it is not a
//! signature, so whoever may write to the store must be trusted (files are 0600, buckets
//! are private). Where checkpoints live and who may resume them: [`crate::checkpoint_store`].

use crate::error::Error;
use pathgrid_pricing::{Coefficients, JobSpec, LegResult, PricingStats};
use pathgrid_protocol::{JobPhase, JobResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Format version of [`Checkpoint`] and of its envelope. Version 2 was plain JSON without a
/// digest; such files are reported and not resumed. Version 3 said `running` where version 4
/// keeps the phase (`training`, `pricing`); it is refused like any other version.
pub const CHECKPOINT_VERSION: u32 = 4;

const MAGIC: &str = "pathgrid-checkpoint";
/// The header line is short; anything longer is not a checkpoint.
const MAX_HEADER: usize = 160;

/// Everything needed to resume a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub version: u32,
    pub job_id: String,
    pub spec: JobSpec,
    pub status: JobPhase,
    /// Run time accumulated over previous coordinator instances.
    pub elapsed_s: f64,
    pub instruments: Vec<InstrumentCheckpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResult>,
    /// The coordinators that worked on the job, oldest first, with the batch results each
    /// accepted: a resumed job shows how much work the restart saved.
    #[serde(default)]
    pub runs: Vec<RunRecord>,
}

/// Progress of one instrument.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentCheckpoint {
    /// Regression dates `solved_from..` are solved; `solved_from == 0` means training is done.
    pub solved_from: usize,
    /// One entry per regression date; entries below `solved_from` are placeholders.
    pub solved: Vec<Coefficients>,
    /// Finished pricing batches.
    #[serde(default)]
    pub pricing: Vec<(u64, PricingStats)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<LegResult>,
}

/// One coordinator's share of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The coordinator (see [`crate::lease::Owner`]), e.g. `batch:<job id>#2`.
    pub owner: String,
    pub training_tasks: u64,
    pub pricing_tasks: u64,
}

/// Job ids are used as object names: ASCII letters, digits, `-`, `_`, at most 100 chars.
pub fn is_safe_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 100 && id.chars().all(pathgrid_store::is_safe_name_char)
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// The bytes stored for `checkpoint`: header line with digest and length, then the payload.
pub fn encode(checkpoint: &Checkpoint) -> Result<Vec<u8>, Error> {
    if !is_safe_job_id(&checkpoint.job_id) {
        return Err(Error::CheckpointJobId { job_id: checkpoint.job_id.clone() });
    }
    let payload = serde_json::to_vec(checkpoint).map_err(Error::CheckpointJson)?;
    let header = format!("{MAGIC} {CHECKPOINT_VERSION} sha256={} bytes={}\n", sha256_hex(&payload), payload.len());
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Verifies and parses stored checkpoint bytes: the one entry point for anything read back
/// from a store. Fails unless the header is well formed, the version is
/// [`CHECKPOINT_VERSION`], the length and SHA-256 digest match the payload, and the payload
/// parses with a safe job id.
pub fn decode(bytes: &[u8]) -> Result<Checkpoint, Error> {
    let bad = |reason| Err(Error::CheckpointFormat { reason });
    if bytes.first() == Some(&b'{') {
        return bad("plain JSON without a digest: a checkpoint of format 2 or older, which is not resumed");
    }
    let Some(end) = bytes.iter().take(MAX_HEADER).position(|&b| b == b'\n') else {
        return bad("no header line");
    };
    let Ok(header) = std::str::from_utf8(&bytes[..end]) else { return bad("header is not UTF-8") };
    let payload = &bytes[end + 1..];
    let fields: Vec<&str> = header.split(' ').collect();
    let [magic, version, digest, length] = fields[..] else { return bad("header must have four fields") };
    if magic != MAGIC {
        return bad("not a pathgrid checkpoint");
    }
    let Ok(version) = version.parse::<u32>() else { return bad("version is not a number") };
    if version != CHECKPOINT_VERSION {
        return Err(Error::CheckpointVersion { found: version, supported: CHECKPOINT_VERSION });
    }
    let Some(digest) = digest.strip_prefix("sha256=") else { return bad("no sha256= field") };
    let Some(length) = length.strip_prefix("bytes=").and_then(|n| n.parse::<u64>().ok()) else {
        return bad("no bytes= field");
    };
    if payload.len() as u64 != length {
        return Err(Error::CheckpointLength { declared: length, actual: payload.len() as u64 });
    }
    let actual = sha256_hex(payload);
    if actual != digest {
        return Err(Error::CheckpointDigest { declared: digest.to_string(), actual });
    }
    let checkpoint: Checkpoint = serde_json::from_slice(payload).map_err(Error::CheckpointJson)?;
    if checkpoint.version != CHECKPOINT_VERSION {
        return Err(Error::CheckpointVersion { found: checkpoint.version, supported: CHECKPOINT_VERSION });
    }
    if !is_safe_job_id(&checkpoint.job_id) {
        return Err(Error::CheckpointJobId { job_id: checkpoint.job_id });
    }
    // The job actor resumes its clock from it (`Duration::from_secs_f64`, which panics on a
    // negative or huge value).
    if std::time::Duration::try_from_secs_f64(checkpoint.elapsed_s).is_err() {
        return bad("elapsed_s is not a duration (negative, or too large)");
    }
    Ok(checkpoint)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use pathgrid_pricing::parse_spec;

    /// A checkpoint of a one-put job in training, with solved β and pricing sums (the
    /// checkpoint store's tests use it too).
    pub(crate) fn sample() -> Checkpoint {
        let spec = parse_spec(
            r#"{ "name": "cp", "seed": 1, "paths": 1000, "instruments": [ { "id": "p",
              "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 },
              "payoff": { "type": "put", "strike": 40.0 },
              "exercise": { "style": "bermudan", "maturity": 1.0, "steps": 4 } } ] }"#,
        )
        .unwrap();
        let stats = PricingStats { samples: 128, sum_y: 512.25, sum_yy: 2100.5, ..PricingStats::default() };
        Checkpoint {
            version: CHECKPOINT_VERSION,
            job_id: "cp-1".into(),
            spec,
            status: JobPhase::Training,
            elapsed_s: 1.5,
            instruments: vec![InstrumentCheckpoint {
                solved_from: 0,
                solved: vec![None, Some(vec![0.5, -0.25]), None],
                pricing: vec![(0, stats), (3, stats)],
                result: None,
            }],
            result: None,
            runs: vec![RunRecord { owner: "a#1".into(), training_tasks: 3, pricing_tasks: 2 }],
        }
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let cp = sample();
        let bytes = encode(&cp).unwrap();
        assert!(bytes.starts_with(b"pathgrid-checkpoint 4 sha256="));
        assert_eq!(decode(&bytes).unwrap(), cp);
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = encode(&sample()).unwrap();
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "a checkpoint cut at {n} of {} bytes was accepted", bytes.len());
        }
        let mut longer = bytes.clone();
        longer.push(b' ');
        assert!(matches!(decode(&longer), Err(Error::CheckpointLength { .. })));
    }

    #[test]
    fn an_edited_payload_is_refused() {
        let text = String::from_utf8(encode(&sample()).unwrap()).unwrap();
        assert!(text.contains("\"samples\":128"));
        // The issue's example: one batch's samples set to 0.
        let edited = text.replacen("\"samples\":128", "\"samples\":0", 1);
        assert!(matches!(decode(edited.as_bytes()), Err(Error::CheckpointLength { .. })), "{edited}");
        // The same edit keeping the length.
        let edited = text.replacen("\"samples\":128", "\"samples\":100", 1);
        assert!(matches!(decode(edited.as_bytes()), Err(Error::CheckpointDigest { .. })), "{edited}");
        // Flipping any single payload byte is caught by the digest (or the parser).
        let bytes = text.as_bytes();
        let start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        for i in (start..bytes.len()).step_by(7) {
            let mut b = bytes.to_vec();
            b[i] ^= 0x01;
            assert!(decode(&b).is_err(), "byte {i} flipped and accepted");
        }
    }

    #[test]
    fn a_run_time_that_is_no_duration_is_refused() {
        // A verified checkpoint with a negative or huge elapsed_s made the resumed job actor
        // panic; checkpoint_decode's fuzz target asserts that decode never yields one.
        for elapsed_s in [-12.5, -0.0001, 1e300, f64::MAX] {
            let bytes = encode(&Checkpoint { elapsed_s, ..sample() }).unwrap();
            assert!(matches!(decode(&bytes), Err(Error::CheckpointFormat { .. })), "{elapsed_s}");
        }
        assert!(decode(&encode(&Checkpoint { elapsed_s: 0.0, ..sample() }).unwrap()).is_ok());
    }

    /// The fuzz seeds named for a format decode as that format says: the current version's
    /// whole checkpoints are accepted, an older version's refused for its version alone.
    #[test]
    fn the_fuzz_seeds_of_whole_checkpoints_decode_as_their_names_say() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/checkpoint_decode");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            if name.starts_with(&format!("v{CHECKPOINT_VERSION}-")) {
                let cp = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(cp.version, CHECKPOINT_VERSION, "{name}");
                seen += 1;
            } else if name.starts_with(&format!("v{}-", CHECKPOINT_VERSION - 1)) {
                assert!(matches!(decode(&bytes), Err(Error::CheckpointVersion { .. })), "{name}");
            }
        }
        assert!(seen >= 4, "only {seen} current-format seeds in {}", dir.display());
    }

    #[test]
    fn old_and_foreign_formats_are_refused() {
        let plain = serde_json::to_vec(&sample()).unwrap();
        assert!(matches!(decode(&plain), Err(Error::CheckpointFormat { .. })));
        let bytes = encode(&sample()).unwrap();
        let text = String::from_utf8(bytes).unwrap().replacen("checkpoint 4 ", "checkpoint 3 ", 1);
        assert!(matches!(decode(text.as_bytes()), Err(Error::CheckpointVersion { found: 3, supported: 4 })));
        assert!(decode(b"").is_err());
        assert!(decode(b"hello\nworld").is_err());
        let mut unsafe_id = sample();
        unsafe_id.job_id = "../x".into();
        assert!(matches!(encode(&unsafe_id), Err(Error::CheckpointJobId { .. })));
    }
}
