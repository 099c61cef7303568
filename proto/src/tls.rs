//! TLS for both services, and the one place where a coordinator URL becomes a connection
//! endpoint.
//!
//! The rule is that the URL says what happens on the wire. `https://` means TLS, and an
//! `https://` URL without a CA to check the coordinator against is refused. `http://` means
//! clear text, and a CA or client certificate configured with an `http://` URL is refused as
//! well: the user clearly wanted TLS, and a token must never cross a socket in clear because a
//! setting was silently ignored.
//!
//! Certificates and keys are PEM files. They are parsed when loaded, so a wrong path or a file
//! without a certificate fails at start, naming the option, rather than at the first handshake.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{option} {path}: cannot read: {source}")]
    Read {
        option: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{option} {path}: no PEM certificate in it")]
    NoCertificate { option: &'static str, path: PathBuf },
    #[error("{option} {path}: no PEM private key in it")]
    NoKey { option: &'static str, path: PathBuf },
    #[error("{option} given without {missing}: a certificate needs its key and a key its certificate")]
    Unpaired { option: &'static str, missing: &'static str },
    #[error("coordinator url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error(
        "coordinator url {url:?} is https:// but no CA certificate is configured (--tls-ca); \
         pathgrid never falls back to clear text"
    )]
    HttpsWithoutCa { url: String },
    #[error(
        "coordinator url {url:?} is http:// (clear text) but TLS options are given; \
         use https:// to connect with TLS"
    )]
    TlsWithHttp { url: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] tonic::transport::Error),
}

/// Reads a PEM file, naming the option it came from in any error.
fn read(option: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { option, path: path.to_path_buf(), source })
}

/// A PEM bundle that holds at least one certificate.
fn certificates(option: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(option, path)?;
    let found = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok).count();
    if found == 0 {
        return Err(TlsError::NoCertificate { option, path: path.to_path_buf() });
    }
    Ok(pem)
}

/// A certificate chain and its private key.
fn identity(
    cert_option: &'static str,
    cert: &Path,
    key_option: &'static str,
    key: &Path,
) -> Result<Identity, TlsError> {
    let cert_pem = certificates(cert_option, cert)?;
    let key_pem = read(key_option, key)?;
    if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
        return Err(TlsError::NoKey { option: key_option, path: key.to_path_buf() });
    }
    Ok(Identity::from_pem(cert_pem, key_pem))
}

/// Installs the process-wide crypto provider once (aws-lc-rs). Other dependencies may enable
/// a second rustls provider, and rustls then refuses to pick one by itself.
fn install_provider() {
    // Err means one is installed already, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The coordinator's side: its certificate and, for mutual TLS, the CA that signs node
/// certificates.
#[derive(Debug, Clone)]
pub struct ServerTls {
    identity: Identity,
    client_ca: Option<Certificate>,
}

impl ServerTls {
    /// From `--tls-cert`, `--tls-key` and (for mutual TLS) `--tls-client-ca`.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Self, TlsError> {
        let identity = identity("--tls-cert", cert, "--tls-key", key)?;
        let client_ca = client_ca.map(|p| certificates("--tls-client-ca", p).map(Certificate::from_pem)).transpose()?;
        Ok(ServerTls { identity, client_ca })
    }

    /// From PEM text already in memory (tests, secrets from the environment).
    pub fn from_pem(cert: impl AsRef<[u8]>, key: impl AsRef<[u8]>, client_ca: Option<&[u8]>) -> Self {
        ServerTls { identity: Identity::from_pem(cert, key), client_ca: client_ca.map(Certificate::from_pem) }
    }

    /// True when nodes must present a certificate signed by the client CA. Clients of `Jobs`
    /// may present one but need not: they are checked by the token alone.
    pub fn requires_node_certificates(&self) -> bool {
        self.client_ca.is_some()
    }

    pub fn config(&self) -> ServerTlsConfig {
        install_provider();
        let config = ServerTlsConfig::new().identity(self.identity.clone());
        match &self.client_ca {
            // Optional at the handshake, so that `Jobs` clients without a certificate can
            // connect; `Workers` then insists on a verified one (see the coordinator's session).
            Some(ca) => config.client_ca_root(ca.clone()).client_auth_optional(true),
            None => config,
        }
    }
}

/// A client's or node's side: the CA that signs the coordinator's certificate, and its own
/// certificate for mutual TLS.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    ca: Option<Certificate>,
    identity: Option<Identity>,
    domain: Option<String>,
}

impl ClientTls {
    /// From `--tls-ca`, and `--tls-cert`/`--tls-key` for a client certificate. `None` when no
    /// option is given at all.
    pub fn from_files(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
        domain: Option<String>,
    ) -> Result<Option<Self>, TlsError> {
        if ca.is_none() && cert.is_none() && key.is_none() && domain.is_none() {
            return Ok(None);
        }
        let ca = ca.map(|p| certificates("--tls-ca", p).map(Certificate::from_pem)).transpose()?;
        let identity = match (cert, key) {
            (Some(c), Some(k)) => Some(identity("--tls-cert", c, "--tls-key", k)?),
            (Some(_), None) => return Err(TlsError::Unpaired { option: "--tls-cert", missing: "--tls-key" }),
            (None, Some(_)) => return Err(TlsError::Unpaired { option: "--tls-key", missing: "--tls-cert" }),
            (None, None) => None,
        };
        Ok(Some(ClientTls { ca, identity, domain }))
    }

    /// Trusts the CA in `ca_pem` (tests, secrets from the environment).
    pub fn from_pem(ca_pem: impl AsRef<[u8]>) -> Self {
        ClientTls { ca: Some(Certificate::from_pem(ca_pem)), ..ClientTls::default() }
    }

    /// Presents this certificate and key (mutual TLS).
    pub fn with_identity(mut self, cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Self {
        self.identity = Some(Identity::from_pem(cert_pem, key_pem));
        self
    }

    /// Checks the coordinator's certificate against this name instead of the URL's host.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    fn config(&self) -> ClientTlsConfig {
        install_provider();
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.ca {
            config = config.ca_certificate(ca.clone());
        }
        if let Some(id) = &self.identity {
            config = config.identity(id.clone());
        }
        if let Some(d) = &self.domain {
            config = config.domain_name(d.clone());
        }
        config
    }
}

/// The endpoint for a coordinator URL: `http://host:port` in clear, or `https://host:port`
/// with `tls`. Every mismatch between the scheme and the TLS settings is an error.
pub fn endpoint(url: &str, tls: Option<&ClientTls>) -> Result<Endpoint, TlsError> {
    let bad = |reason: &str| TlsError::Url { url: url.to_string(), reason: reason.to_string() };
    let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| bad(&e.to_string()))?;
    let uri = endpoint.uri();
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("expected http://host:port or https://host:port"));
    }
    match (uri.scheme_str(), tls) {
        (Some("http"), None) => Ok(endpoint),
        (Some("http"), Some(_)) => Err(TlsError::TlsWithHttp { url: url.to_string() }),
        (Some("https"), Some(t)) if t.ca.is_some() => Ok(endpoint.tls_config(t.config())?),
        (Some("https"), _) => Err(TlsError::HttpsWithoutCa { url: url.to_string() }),
        _ => Err(bad("expected http://host:port or https://host:port")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_scheme_decides_and_never_falls_back() {
        assert!(endpoint("http://127.0.0.1:1", None).is_ok());
        assert!(matches!(endpoint("https://127.0.0.1:1", None), Err(TlsError::HttpsWithoutCa { .. })));
        let no_ca = ClientTls { domain: Some("x".into()), ..ClientTls::default() };
        assert!(matches!(endpoint("https://127.0.0.1:1", Some(&no_ca)), Err(TlsError::HttpsWithoutCa { .. })));
        let tls = ClientTls::from_pem("not checked until the handshake");
        assert!(matches!(endpoint("http://127.0.0.1:1", Some(&tls)), Err(TlsError::TlsWithHttp { .. })));
        assert!(matches!(endpoint("not-a-url", None), Err(TlsError::Url { .. })));
        assert!(matches!(endpoint("ftp://host:1", None), Err(TlsError::Url { .. })));
    }

    #[test]
    fn files_are_checked_when_loaded() {
        let dir = std::env::temp_dir().join(format!("pathgrid-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no pem here").unwrap();
        let e = ClientTls::from_files(Some(&empty), None, None, None).unwrap_err();
        assert!(e.to_string().contains("--tls-ca") && e.to_string().contains("no PEM certificate"), "{e}");
        let e = ClientTls::from_files(Some(&dir.join("missing.pem")), None, None, None).unwrap_err();
        assert!(matches!(e, TlsError::Read { option: "--tls-ca", .. }), "{e}");
        let e = ClientTls::from_files(None, Some(&empty), None, None).unwrap_err();
        assert!(matches!(e, TlsError::Unpaired { option: "--tls-cert", .. }), "{e}");
        assert!(ClientTls::from_files(None, None, None, None).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
