//! The coordinator's error type.

use pathgrid_pricing::SpecErrors;
use pathgrid_protocol::JobPhase;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The submitted spec is invalid; the message names the fields.
    #[error(transparent)]
    InvalidSpec(#[from] SpecErrors),
    #[error(transparent)]
    Proto(#[from] pathgrid_proto::Error),
    #[error("checkpoint store: {0}")]
    Store(#[from] pathgrid_store::Error),
    #[error("not a valid checkpoint: {reason}")]
    CheckpointFormat { reason: &'static str },
    #[error("checkpoint format {found} is not supported (this version reads format {supported})")]
    CheckpointVersion { found: u32, supported: u32 },
    #[error("checkpoint payload is {actual} bytes, its header says {declared} (truncated or partly written)")]
    CheckpointLength { declared: u64, actual: u64 },
    #[error("checkpoint digest mismatch: header says sha256 {declared}, payload has {actual} (corrupted or edited)")]
    CheckpointDigest { declared: String, actual: String },
    #[error("checkpoint payload: {0}")]
    CheckpointJson(#[source] serde_json::Error),
    #[error("unsafe job id {job_id:?} in a checkpoint")]
    CheckpointJobId { job_id: String },
    #[error("checkpoint object {object:?} holds job {job_id:?}: it was renamed or copied")]
    CheckpointMisplaced { object: String, job_id: String },
    #[error("the lease of job {job_id} keeps changing hands; not taken")]
    LeaseContended { job_id: String },
    #[error("checkpoint object {object:?} refused: {source}")]
    CheckpointRefused {
        object: String,
        #[source]
        source: Box<Error>,
    },
    #[error("unknown job {0}")]
    UnknownJob(String),
    /// Like [`Error::Status`], the text holds the whole cause chain, each part once.
    #[error("gRPC transport: {}", chain_text(.0))]
    Transport(tonic::transport::Error),
    /// Shown once: not a `#[source]`, since the status's text already holds its cause
    /// (as a source it would print twice in an error chain).
    #[error("{}", status_text(.0))]
    Status(tonic::Status),
    /// The reflection service could not read a file descriptor set (a build defect).
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    #[error("job {job_id} {status}: {message}")]
    JobFailed { job_id: String, status: JobPhase, message: String },
    /// A job that could not reach a node: its definition, as the nodes receive it, is over
    /// the gRPC message limit. Refused at submit so it never blocks the queue.
    #[error(
        "job too large: {what} encodes to {bytes} bytes, over the limit of {limit} bytes \
         (the {max}-byte gRPC message size less headroom); split it into smaller jobs"
    )]
    TooLarge { what: &'static str, bytes: usize, limit: usize, max: usize },
    /// Something a job computed from finite statistics is not finite: its values overflow.
    #[error("instrument {instrument:?}: {what} are not finite (its values overflow the range of f64)")]
    NonFinite { instrument: String, what: &'static str },
    /// The coordinator's server task panicked or was cancelled.
    #[error("coordinator task: {0}")]
    Task(tokio::task::JoinError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Tls(#[from] pathgrid_proto::tls::TlsError),
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidSpec(e) => tonic::Status::invalid_argument(e.to_string()),
            e @ Error::TooLarge { .. } => tonic::Status::invalid_argument(e.to_string()),
            Error::Proto(e) => e.into(),
            Error::UnknownJob(id) => tonic::Status::not_found(format!("unknown job {id}")),
            Error::ShuttingDown => tonic::Status::unavailable("the coordinator is shutting down"),
            Error::Status(s) => s,
            e => tonic::Status::internal(e.to_string()),
        }
    }
}

impl Error {
    /// True when the input itself was refused (an invalid spec, a job too large to send):
    /// trying again cannot help, so callers report it rather than retry.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Error::InvalidSpec(_) | Error::TooLarge { .. } | Error::Tls(_) => true,
            Error::Status(s) => s.code() == tonic::Code::InvalidArgument,
            _ => false,
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(s: tonic::Status) -> Self {
        Error::Status(s)
    }
}

impl From<tonic::transport::Error> for Error {
    fn from(e: tonic::transport::Error) -> Self {
        Error::Transport(e)
    }
}

/// `message (gRPC code)`, with its causes.
fn status_text(s: &tonic::Status) -> String {
    let head = if s.message().is_empty() {
        format!("gRPC {:?}", s.code())
    } else {
        format!("{} (gRPC {:?})", s.message(), s.code())
    };
    with_causes(head, std::error::Error::source(s))
}

/// An error and its causes, each part once: tonic's errors repeat their own text in
/// their sources ("transport error: transport error: tcp connect error: tcp connect error").
fn chain_text(e: &dyn std::error::Error) -> String {
    with_causes(e.to_string(), e.source())
}

fn with_causes(mut text: String, mut cause: Option<&dyn std::error::Error>) -> String {
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}
