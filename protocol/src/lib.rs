//! What the parts of a pathgrid cluster say to each other, as domain types.
//!
//! The pricing crate knows instruments, batches and their statistics; this crate knows
//! jobs: where one stands ([`JobPhase`], [`Progress`]), what it returns ([`JobResult`]),
//! the nodes that run it ([`NodeInfo`]) and the messages between the coordinator and a
//! node ([`NodeTask`], [`FromNode`]). There is no wire format here and no I/O:
//! `pathgrid-proto` is the one place that turns these types into gRPC messages and back,
//! and the coordinator, the node, the CLI and the trigger all speak these types.

mod node;
mod phase;
mod progress;
mod result;
mod task;

pub use node::{MAX_SLOTS, NodeInfo, NodeLoad};
pub use phase::JobPhase;
pub use progress::Progress;
pub use result::{JobResult, JobStats};
pub use task::{FromNode, JobId, NodeTask, NodeTaskKind, TaskErrorKind, TaskOutput};
