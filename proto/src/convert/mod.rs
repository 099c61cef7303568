//! Conversions between wire (`v1`) types and the pricing and protocol types: the only
//! place that knows both, one module per part of the protocol.
//!
//! Conversions *to* the wire are infallible. Conversions *from* the wire check the shape
//! of every field and name the offending one (`instruments[2].model.gbm.spot`); semantic
//! validation of a spec (positive spots, sane sizes, ...) stays in
//! [`pathgrid_pricing::JobSpec::validate`], which callers run on the result, and whether
//! a node's statistics fit its task is the scheduler's to judge.

mod event;
mod node;
mod result;
mod spec;
mod stats;
#[cfg(test)]
mod tests;

pub use event::{node_from_proto, node_to_proto, progress_from_proto, progress_to_proto};
pub use node::{
    definition, definition_from_proto, forget, from_node, heartbeat, hello, hello_name, shutdown, task, task_error,
    task_from_proto, task_output, task_result, welcome,
};
pub use result::{
    instrument_result_from_proto, instrument_result_to_proto, job_result_from_proto, job_result_to_proto,
    phase_from_proto, phase_to_proto,
};
pub use spec::{spec_from_proto, spec_to_proto};
pub use stats::{
    coefficients_from_proto, coefficients_to_proto, policy_from_proto, policy_to_proto, pricing_from_proto,
    pricing_to_proto, regression_from_proto, regression_to_proto,
};
