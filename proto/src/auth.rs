//! Shared-token authentication, used by both ends: clients attach the token to every
//! call, servers check it before any handler runs.

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Client side: adds `authorization: Bearer <token>` to every request (nothing if no token).
#[derive(Clone, Debug, Default)]
pub struct AddToken {
    header: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl AddToken {
    /// Fails when the token has characters that cannot go into an HTTP header.
    pub fn new(token: Option<&str>) -> Result<Self, crate::Error> {
        let header = match token {
            None => None,
            Some(t) => Some(
                format!("Bearer {t}").parse().map_err(|_| crate::Error::field("token", "must be printable ASCII"))?,
            ),
        };
        Ok(AddToken { header })
    }
}

impl Interceptor for AddToken {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(h) = &self.header {
            req.metadata_mut().insert(crate::AUTH_HEADER, h.clone());
        }
        Ok(req)
    }
}

/// Server side: rejects calls without the expected token with `UNAUTHENTICATED`.
#[derive(Clone, Debug, Default)]
pub struct CheckToken {
    expected: Option<std::sync::Arc<str>>,
}

impl CheckToken {
    pub fn new(token: Option<&str>) -> Self {
        CheckToken { expected: token.map(|t| std::sync::Arc::from(format!("Bearer {t}"))) }
    }

    /// True when `token` (the raw token, as in a `Hello`) is acceptable.
    pub fn accepts(&self, token: &str) -> bool {
        match &self.expected {
            None => true,
            Some(e) => constant_time_eq(e.as_bytes().get(7..).unwrap_or_default(), token.as_bytes()),
        }
    }
}

impl Interceptor for CheckToken {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else { return Ok(req) };
        let got = req.metadata().get(crate::AUTH_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if constant_time_eq(got, expected.as_bytes()) {
            Ok(req)
        } else {
            Err(Status::unauthenticated("missing or wrong token"))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("--token-file {path}: cannot read: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--token-file {path}: {reason}")]
    Invalid { path: std::path::PathBuf, reason: &'static str },
}

/// A fresh token of 256 bits from the operating system's RNG, as 64 hex digits: nobody can
/// guess it, unlike one made of the time and a process id.
pub fn random_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token in `path` (its first line, without surrounding whitespace). A file keeps the
/// token out of `ps` and shell history, where `--token` would show it.
pub fn read_token_file(path: &std::path::Path) -> Result<String, TokenError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read { path: path.to_path_buf(), source })?;
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(TokenError::Invalid { path: path.to_path_buf(), reason: "the file is empty" });
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenError::Invalid {
            path: path.to_path_buf(),
            reason: "the token must be printable ASCII without spaces",
        });
    }
    Ok(token.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_round_trip() {
        let mut add = AddToken::new(Some("s3cret")).unwrap();
        let mut check = CheckToken::new(Some("s3cret"));
        let req = add.call(Request::new(())).unwrap();
        assert!(check.call(req).is_ok());
        let mut wrong = AddToken::new(Some("nope")).unwrap();
        let req = wrong.call(Request::new(())).unwrap();
        assert_eq!(check.call(req).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert!(check.call(Request::new(())).is_err());
        assert!(check.accepts("s3cret") && !check.accepts("s3cre") && !check.accepts(""));
        assert!(CheckToken::new(None).call(Request::new(())).is_ok());
        assert!(AddToken::new(Some("bad\nvalue")).is_err());
    }

    #[test]
    fn random_tokens_are_long_and_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(AddToken::new(Some(&a)).is_ok());
    }

    #[test]
    fn token_files() {
        let dir = std::env::temp_dir().join(format!("pathgrid-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("token");
        std::fs::write(&f, "  s3cret\n").unwrap();
        assert_eq!(read_token_file(&f).unwrap(), "s3cret");
        std::fs::write(&f, "\n").unwrap();
        assert!(read_token_file(&f).unwrap_err().to_string().contains("empty"));
        std::fs::write(&f, "two words\n").unwrap();
        assert!(read_token_file(&f).unwrap_err().to_string().contains("printable ASCII"));
        assert!(matches!(read_token_file(&dir.join("none")), Err(TokenError::Read { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
