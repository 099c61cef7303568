//! A throwaway certificate authority for the TLS tests: a CA, a coordinator certificate for
//! `localhost` and 127.0.0.1, and a node certificate for mutual TLS, all made fresh by each
//! test (nothing secret is kept in the repository).

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::path::{Path, PathBuf};

/// PEM text of a CA and two certificates it signed.
#[derive(Debug, Clone)]
pub struct TestPki {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub node_cert: String,
    pub node_key: String,
}

/// The same PKI written to files, for the `pathgrid` binary's options.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub node_cert: PathBuf,
    pub node_key: PathBuf,
}

impl TestPki {
    pub fn new(name: &str) -> TestPki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let leaf = |san: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(san).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) =
            leaf(vec!["localhost".into(), "127.0.0.1".into()], ExtendedKeyUsagePurpose::ServerAuth);
        let (node_cert, node_key) = leaf(vec![format!("{name}-node")], ExtendedKeyUsagePurpose::ClientAuth);
        TestPki { ca: ca.pem(), server_cert, server_key, node_cert, node_key }
    }

    pub fn write(&self, dir: &Path) -> PkiFiles {
        let put = |file: &str, text: &str| {
            let path = dir.join(file);
            std::fs::write(&path, text).unwrap();
            path
        };
        PkiFiles {
            ca: put("ca.pem", &self.ca),
            server_cert: put("server.pem", &self.server_cert),
            server_key: put("server.key", &self.server_key),
            node_cert: put("node.pem", &self.node_cert),
            node_key: put("node.key", &self.node_key),
        }
    }
}
