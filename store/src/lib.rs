//! Object storage for pathgrid: one [`Store`] interface over a local directory ([`LocalStore`])
//! and S3 ([`S3Store`], AWS or a local S3 server through a custom endpoint and path-style URLs).
//!
//! Keys are `/`-separated relative names (`inputs/a.json`). [`open`] turns `s3://bucket/prefix`
//! or a filesystem path into a store.

mod local;
mod names;
mod s3;

pub use local::LocalStore;
pub use names::{is_safe_name_char, safe_name};
pub use s3::{S3Options, S3Store};

use std::future::Future;

/// Errors of the stores. `NotFound` and `TooLarge` are about the object; the rest about access.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("object {key:?} not found")]
    NotFound { key: String },
    #[error("object {key:?} is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { key: String, size: u64, limit: u64 },
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("{op} {key:?}: {source}")]
    Io {
        op: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("S3 {op} {key:?}: {message}")]
    S3 { op: &'static str, key: String, message: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// An object store. All keys are relative to the store's root (directory or bucket prefix).
pub trait Store: Send + Sync {
    /// Reads a whole object; fails with [`Error::TooLarge`] when it has more than `max_bytes`.
    fn get(&self, key: &str, max_bytes: u64) -> impl Future<Output = Result<Vec<u8>>> + Send;
    /// Writes (or replaces) an object.
    fn put(&self, key: &str, data: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
    /// Writes an object only when no object has the key: `Ok(true)` when written,
    /// `Ok(false)` when it already existed (then nothing is changed).
    fn put_if_absent(&self, key: &str, data: Vec<u8>) -> impl Future<Output = Result<bool>> + Send;
    /// Keys under `prefix` (plain string prefix), sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Deletes an object; deleting a missing object is not an error.
    fn delete(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Either store, chosen at run time from a URL (see [`open`]).
#[derive(Debug, Clone)]
pub enum AnyStore {
    Local(LocalStore),
    S3(S3Store),
}

/// Where a store URL points: `s3://bucket/prefix` or a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3 { bucket: String, prefix: String },
    Local(std::path::PathBuf),
}

/// Parses `s3://bucket[/prefix]` or a path. The prefix never starts with `/` and, when not
/// empty, ends with `/`.
pub fn parse_location(url: &str) -> Result<Location> {
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_bucket(bucket) {
            return Err(Error::InvalidUrl {
                url: url.to_string(),
                reason: "bucket must be 3-63 characters of a-z, 0-9, '.', '-'",
            });
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        return Ok(Location::S3 { bucket: bucket.to_string(), prefix });
    }
    if url.contains("://") {
        return Err(Error::InvalidUrl { url: url.to_string(), reason: "only s3:// URLs and paths are supported" });
    }
    if url.is_empty() {
        return Err(Error::InvalidUrl { url: String::new(), reason: "empty" });
    }
    Ok(Location::Local(url.into()))
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
}

/// Opens the store a URL names. S3 stores use the default AWS configuration (environment,
/// profile, instance role); `options` may set an endpoint for a local S3 server.
pub async fn open(url: &str, options: &S3Options) -> Result<AnyStore> {
    match parse_location(url)? {
        Location::Local(dir) => Ok(AnyStore::Local(LocalStore::new(dir))),
        Location::S3 { bucket, prefix } => {
            let client = s3::client_from_env(options).await;
            Ok(AnyStore::S3(S3Store::new(client, bucket, prefix)))
        }
    }
}

/// Checks a key: not empty, relative, no `.`/`..` segments, no NUL.
pub(crate) fn check_key(key: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidKey { key: key.to_string(), reason });
    if key.is_empty() {
        return bad("empty");
    }
    if key.starts_with('/') {
        return bad("must be relative");
    }
    if key.contains('\0') {
        return bad("contains NUL");
    }
    if key.split('/').any(|s| s == "." || s == "..") {
        return bad("contains a '.' or '..' segment");
    }
    Ok(())
}

impl Store for AnyStore {
    async fn get(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
        match self {
            AnyStore::Local(s) => s.get(key, max_bytes).await,
            AnyStore::S3(s) => s.get(key, max_bytes).await,
        }
    }
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        match self {
            AnyStore::Local(s) => s.put(key, data).await,
            AnyStore::S3(s) => s.put(key, data).await,
        }
    }
    async fn put_if_absent(&self, key: &str, data: Vec<u8>) -> Result<bool> {
        match self {
            AnyStore::Local(s) => s.put_if_absent(key, data).await,
            AnyStore::S3(s) => s.put_if_absent(key, data).await,
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        match self {
            AnyStore::Local(s) => s.list(prefix).await,
            AnyStore::S3(s) => s.list(prefix).await,
        }
    }
    async fn delete(&self, key: &str) -> Result<()> {
        match self {
            AnyStore::Local(s) => s.delete(key).await,
            AnyStore::S3(s) => s.delete(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_urls_and_paths() {
        assert_eq!(
            parse_location("s3://my-bucket/a/b/").unwrap(),
            Location::S3 { bucket: "my-bucket".into(), prefix: "a/b/".into() }
        );
        assert_eq!(
            parse_location("s3://my-bucket").unwrap(),
            Location::S3 { bucket: "my-bucket".into(), prefix: String::new() }
        );
        assert_eq!(parse_location("/tmp/x").unwrap(), Location::Local("/tmp/x".into()));
        assert!(matches!(parse_location("s3://Bad_Bucket/x"), Err(Error::InvalidUrl { .. })));
        assert!(matches!(parse_location("gs://b/x"), Err(Error::InvalidUrl { .. })));
    }

    #[test]
    fn rejects_escaping_keys() {
        assert!(check_key("inputs/a.json").is_ok());
        for k in ["", "/etc/passwd", "a/../b", "./a", "a\0b"] {
            assert!(check_key(k).is_err(), "{k:?}");
        }
    }
}
