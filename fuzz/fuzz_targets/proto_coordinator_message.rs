//! A `pathgrid.v1.CoordinatorMessage`, everything a node reads from its coordinator: prost
//! decode, the node's conversions (`convert::definition_from_proto`, `task_from_proto`),
//! then the node's own `Worker`, which checks a task against the job and runs it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_fuzz::{check_coordinator_message, check_reencode};
use pathgrid_proto::v1;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = v1::CoordinatorMessage::decode(data) else { return };
    check_reencode(&msg);
    check_coordinator_message(&msg);
});
