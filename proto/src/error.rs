//! Errors of wire conversion.

/// A proto message that cannot be turned into a pricing type: names the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
}

impl Error {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidField { field: field.into(), message: message.into() }
    }

    pub fn missing(field: impl Into<String>) -> Self {
        Error::field(field, "missing")
    }

    /// The same error, its field read as part of `parent` (`instruments[0].payoff` within
    /// `job.spec` is `job.spec.instruments[0].payoff`).
    pub fn within(self, parent: &str) -> Self {
        match self {
            Error::InvalidField { field, message } => {
                Error::InvalidField { field: format!("{parent}.{field}"), message }
            }
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}
