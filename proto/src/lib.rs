//! The pathgrid.v1 protocol: generated messages and services, and the one place where
//! wire types are converted to and from the pricing types ([`convert`]).

pub mod auth;
pub mod convert;
pub mod error;
pub mod tls;

pub use error::Error;

/// Generated code of package `pathgrid.v1`.
#[allow(missing_debug_implementations, clippy::all)]
pub mod v1 {
    tonic::include_proto!("pathgrid.v1");
}

/// The encoded `FileDescriptorSet` of `pathgrid.v1`, served by the coordinator's gRPC server
/// reflection so that clients without a copy of the proto can discover the API.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("pathgrid_descriptor");

/// Version string nodes and coordinators exchange in `Hello` / `Welcome`.
pub const PROTOCOL_VERSION: &str = concat!("pathgrid/", env!("CARGO_PKG_VERSION"));

/// Default limit on one gRPC message, both directions (4 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 << 20;

/// Metadata key carrying the shared token (`authorization: Bearer <token>`).
pub const AUTH_HEADER: &str = "authorization";
