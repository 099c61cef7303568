//! Stored checkpoint bytes (`checkpoint::decode`), and what a coordinator does with a
//! checkpoint that verifies: re-encode it, validate its spec, build the job, read its timings.
//!
//! A mutated payload no longer matches its digest, so on its own the fuzzer would only reach
//! the header parser. Each input is therefore decoded twice: as given, and as a payload under
//! a header that verifies (an input that already has a header has it replaced), so that the
//! JSON and everything after it is fuzzed too. The digest is no signature: whoever can write
//! the store can write such bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_coordinator::checkpoint::{self, Checkpoint};
use pathgrid_fuzz::check_spec;
use sha2::{Digest, Sha256};
use std::fmt::Write;

const MAGIC: &[u8] = b"pathgrid-checkpoint ";

/// `payload` under a header that verifies.
fn sealed(payload: &[u8]) -> Vec<u8> {
    let mut hex = String::with_capacity(64);
    for b in Sha256::digest(payload) {
        let _ = write!(hex, "{b:02x}");
    }
    let mut out = format!("pathgrid-checkpoint 3 sha256={hex} bytes={}\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

fn check(cp: &Checkpoint) {
    // What decodes encodes to bytes that decode to the same checkpoint.
    let bytes = checkpoint::encode(cp);
    assert!(bytes.is_ok(), "a decoded checkpoint does not encode: {bytes:?}");
    if let Ok(bytes) = bytes {
        assert!(checkpoint::decode(&bytes).ok().as_ref() == Some(cp), "checkpoint round trip changed it");
    }
    // The job actor turns the stored run time into a Duration.
    let elapsed = std::time::Duration::try_from_secs_f64(cp.elapsed_s);
    assert!(elapsed.is_ok(), "decoded elapsed_s {} is no duration", cp.elapsed_s);
    check_spec(&cp.spec);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cp) = checkpoint::decode(data) {
        check(&cp);
    }
    let payload = match data.strip_prefix(MAGIC) {
        Some(rest) => rest.iter().position(|&b| b == b'\n').map_or(&[][..], |n| &rest[n + 1..]),
        None => data,
    };
    if let Ok(cp) = checkpoint::decode(&sealed(payload)) {
        check(&cp);
    }
});
