//! The nodes of a cluster as the coordinator sees them.

use std::time::Duration;

/// Largest number of slots (concurrent tasks) a node may announce.
pub const MAX_SLOTS: u32 = 4096;

/// Public view of an attached node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    /// The coordinator's id of this attachment (a reconnecting node gets a new one); 0 when
    /// read back from the wire, which does not carry it.
    pub session: u64,
    pub name: String,
    pub slots: u32,
    pub running: u32,
    pub version: String,
    pub since_heartbeat: Duration,
    pub tasks_done: u64,
    /// What the node said in its last heartbeat about the memory it holds.
    pub load: NodeLoad,
}

/// A node's own account of what it holds, from its heartbeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeLoad {
    /// Bytes of training batches kept in memory.
    pub cached_bytes: u64,
    /// Jobs the node holds state for.
    pub jobs: u32,
}
