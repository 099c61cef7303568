//! Coordinator settings.

use crate::checkpoint_store::CheckpointStore;
use pathgrid_proto::tls::ServerTls;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Shared token nodes and clients must present (`PATHGRID_TOKEN` / `--token`).
    pub token: Option<String>,
    /// Serve TLS with this certificate (and, for mutual TLS, require node certificates);
    /// `None` serves clear text.
    pub tls: Option<ServerTls>,
    /// Where job checkpoints and leases go; `None` keeps jobs in memory only.
    pub store: Option<Arc<CheckpointStore>>,
    /// How often nodes are asked to send heartbeats.
    pub heartbeat_interval: Duration,
    /// A node silent for this long is lost (its batches go back to the queue).
    pub heartbeat_timeout: Duration,
    /// Largest gRPC message accepted or sent, either way.
    pub max_message_bytes: usize,
    /// HTTP/2 keepalive pings.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// A node must say Hello within this time after attaching.
    pub hello_timeout: Duration,
    /// Tasks in flight per node slot (≥ 1): 2 hides the round trip behind the next task.
    pub pipeline_depth: usize,
    /// Instruments of one job in flight at once (their training batches live on nodes).
    pub max_active_instruments: usize,
    /// Least time between two checkpoints written mid-phase.
    pub checkpoint_interval: Duration,
    /// On shutdown, tell nodes to exit (true) or to keep dialing for a restarted coordinator.
    pub release_nodes_on_shutdown: bool,
    /// How long shutdown waits for open streams after telling everyone to stop.
    pub shutdown_grace: Duration,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            token: None,
            tls: None,
            store: None,
            heartbeat_interval: Duration::from_secs(2),
            heartbeat_timeout: Duration::from_secs(10),
            max_message_bytes: pathgrid_proto::DEFAULT_MAX_MESSAGE_BYTES,
            keepalive_interval: Duration::from_secs(20),
            keepalive_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(10),
            pipeline_depth: 2,
            max_active_instruments: 16,
            checkpoint_interval: Duration::from_secs(1),
            release_nodes_on_shutdown: false,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}
