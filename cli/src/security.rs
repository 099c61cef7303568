//! The shared token and TLS options of the cluster commands, and how they become settings.
//! Every cluster command takes them the same way, so they are defined once here.

use crate::Failure;
use clap::Args;
use pathgrid_proto::auth;
use pathgrid_proto::tls::{ClientTls, ServerTls};
use std::path::PathBuf;

/// The shared token clients and nodes present to a coordinator.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Shared token (it shows in `ps`: prefer --token-file or PATHGRID_TOKEN).
    #[arg(long, env = "PATHGRID_TOKEN", hide_env_values = true, conflicts_with = "token_file")]
    pub token: Option<String>,
    /// File whose first line is the shared token.
    #[arg(long, env = "PATHGRID_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

impl TokenArgs {
    /// The token, from the option, the environment or the file; `None` when there is none.
    pub fn resolve(&self) -> Result<Option<String>, Failure> {
        match (&self.token, &self.token_file) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(path)) => auth::read_token_file(path).map(Some).map_err(|e| Failure::Invalid(e.to_string())),
            (None, None) => Ok(None),
        }
    }
}

/// TLS towards an `https://` coordinator.
#[derive(Debug, Args)]
pub struct ClientTlsArgs {
    /// CA certificate (PEM) that signed the coordinator's certificate; required for https://
    /// URLs (pathgrid never falls back to clear text).
    #[arg(long, env = "PATHGRID_TLS_CA", value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// This side's certificate (PEM), for a coordinator that requires mutual TLS.
    #[arg(long, env = "PATHGRID_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "PATHGRID_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Name to check the coordinator's certificate against (default: the URL's host).
    #[arg(long, value_name = "NAME")]
    pub tls_domain: Option<String>,
}

impl ClientTlsArgs {
    pub fn resolve(&self) -> Result<Option<ClientTls>, Failure> {
        ClientTls::from_files(
            self.tls_ca.as_deref(),
            self.tls_cert.as_deref(),
            self.tls_key.as_deref(),
            self.tls_domain.clone(),
        )
        .map_err(|e| Failure::Invalid(e.to_string()))
    }
}

/// TLS on the coordinator's port (both services, health and reflection).
#[derive(Debug, Args)]
pub struct ServerTlsArgs {
    /// Serve TLS with this certificate chain (PEM); clients and nodes then use https:// URLs.
    #[arg(long, env = "PATHGRID_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "PATHGRID_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS for nodes: they must present a certificate signed by this CA (PEM).
    /// Clients of jobs are still checked by the token alone.
    #[arg(long, env = "PATHGRID_TLS_CLIENT_CA", value_name = "PEM", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl ServerTlsArgs {
    pub fn resolve(&self) -> Result<Option<ServerTls>, Failure> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else { return Ok(None) };
        ServerTls::from_files(cert, key, self.tls_client_ca.as_deref())
            .map(Some)
            .map_err(|e| Failure::Invalid(e.to_string()))
    }
}
