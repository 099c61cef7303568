//! A `pathgrid.v1.JobSpec` from the wire, as the coordinator's `Submit` and a node's job
//! definition read it: prost decode, `convert::spec_from_proto`, validation, and the node's
//! own `Worker::define`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_fuzz::{check_definition, check_reencode, check_spec};
use pathgrid_proto::{convert, v1};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(wire) = v1::JobSpec::decode(data) else { return };
    check_reencode(&wire);
    if let Ok(spec) = convert::spec_from_proto(&wire) {
        check_spec(&spec);
    }
    check_definition(&v1::JobDefinition { job_id: "fuzz-job".into(), spec: Some(wire) });
});
