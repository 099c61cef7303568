//! A `pathgrid.v1.NodeMessage`, everything a node sends up its stream: the first message's
//! `Hello` check and the later messages' `convert::from_node`, then the statistics' use.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathgrid_fuzz::{check_output, check_reencode};
use pathgrid_proto::convert;
use pathgrid_proto::v1::{self, node_message::Msg};
use pathgrid_protocol::FromNode;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = v1::NodeMessage::decode(data) else { return };
    check_reencode(&msg);
    if let Some(Msg::Hello(hello)) = &msg.msg
        && let Ok(name) = convert::hello_name(hello)
    {
        assert!(!name.is_empty() && name.len() <= 128, "accepted node name {name:?}");
    }
    if let Ok(FromNode::Result { output, .. }) = convert::from_node(msg) {
        check_output(&output);
    }
});
