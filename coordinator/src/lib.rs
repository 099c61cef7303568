//! pathgrid coordinator: splits jobs into batch tasks, hands them to nodes over gRPC,
//! merges their statistics in batch order and survives node loss and restarts.
//!
//! Actors (tokio tasks owning their state, talking over bounded channels):
//! - [`scheduler`]: node registry, task queues, slot-based assignment, batch ownership,
//!   the single "node lost" path (stream closed or heartbeat timeout);
//! - [`job`]: one per job, doing the I/O around each leg's pure
//!   `Training(date) → Pricing → Done` state machine; the job ends `Succeeded|Failed|Cancelled`;
//! - [`session`]: one per attached node, bridging its gRPC stream;
//! - [`cluster`]: the job registry and the handle the services (and tests) use;
//! - [`checkpoint`], [`checkpoint_store`], [`lease`]: verified checkpoints in a local or S3
//!   store, and the per-job lease that keeps two coordinators off one job.
//!
//! Entry points: [`run`] (a coordinator on a listener) and, with the `client` feature,
//! `Client` (submit/watch/...). The `test-util` feature adds `virtual_node`: in-process
//! nodes for tests and benches. Neither is part of a coordinator, so neither is in its
//! default API. The embedded cluster of `pathgrid run` (coordinator + in-process nodes)
//! lives in the CLI, which depends on both this crate and the node crate.

pub mod checkpoint;
pub mod checkpoint_store;
#[cfg(feature = "client")]
pub mod client;
pub mod cluster;
pub mod config;
pub mod error;
pub mod job;
pub mod lease;
pub mod protocol;
pub mod scheduler;
pub mod service;
pub mod session;
mod standard;
#[cfg(any(test, feature = "test-util"))]
pub mod virtual_node;

#[cfg(test)]
mod tests;

pub use checkpoint::Checkpoint;
pub use checkpoint_store::CheckpointStore;
#[cfg(feature = "client")]
pub use client::{Client, Reconnect};
pub use cluster::Cluster;
pub use config::CoordinatorConfig;
pub use lease::Owner;

pub use error::Error;
pub use pathgrid_protocol::{JobPhase, NodeInfo, NodeLoad, Progress};
pub use scheduler::{SchedulerHandle, SchedulerStats};
pub use service::{run, serve};
