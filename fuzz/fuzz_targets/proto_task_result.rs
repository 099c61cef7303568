//! A `pathgrid.v1.TaskResult` from a node: prost decode, the session's conversion
//! (`convert::task_output`), then the merge and solve (or finish) the coordinator runs on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_fuzz::{check_reencode, check_task_result};
use pathgrid_proto::v1;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(result) = v1::TaskResult::decode(data) else { return };
    check_reencode(&result);
    check_task_result(&result);
});
