//! The coordinator's error type.

use pathgrid_pricing::SpecErrors;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The submitted spec is invalid; the message names the fields.
    #[error(transparent)]
    InvalidSpec(#[from] SpecErrors),
    #[error(transparent)]
    Proto(#[from] pathgrid_proto::Error),
    #[error("checkpoint store: {0}")]
    Checkpoint(String),
    #[error("unknown job {0}")]
    UnknownJob(String),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("gRPC: {0}")]
    Status(#[from] tonic::Status),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    #[error("job {job_id} {status}: {message}")]
    JobFailed { job_id: String, status: String, message: String },
    #[error("{0}")]
    Node(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidSpec(e) => tonic::Status::invalid_argument(e.to_string()),
            Error::Proto(e) => e.into(),
            Error::UnknownJob(id) => tonic::Status::not_found(format!("unknown job {id}")),
            Error::ShuttingDown => tonic::Status::unavailable("the coordinator is shutting down"),
            Error::Status(s) => s,
            e => tonic::Status::internal(e.to_string()),
        }
    }
}
