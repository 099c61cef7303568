//! A `pathgrid.v1.NodeMessage`, everything a node sends up its stream: the first message's
//! `Hello` check and the later messages' `session::from_node`, then the statistics' use.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_coordinator::session::{self, FromNode};
use pathgrid_fuzz::{check_output, check_reencode};
use pathgrid_proto::v1::{self, node_message::Msg};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = v1::NodeMessage::decode(data) else { return };
    check_reencode(&msg);
    if let Some(Msg::Hello(hello)) = &msg.msg
        && let Ok(name) = session::check_hello(hello)
    {
        assert!(!name.is_empty() && name.len() <= 128, "accepted node name {name:?}");
    }
    if let Ok(FromNode::Result { output, .. }) = session::from_node(msg) {
        check_output(&output);
    }
});
