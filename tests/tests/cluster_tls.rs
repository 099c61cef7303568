//! TLS on the coordinator's port, over real gRPC on 127.0.0.1 with certificates each test
//! makes (rcgen): a job over TLS prices bit for bit like the sequential reference; a
//! recording proxy shows that the token never crosses the socket in clear over https (and
//! that it does over http, so the recording is known to work); every mismatch between the URL
//! and the TLS settings is refused, never downgraded; mutual TLS turns away nodes without a
//! certificate and still serves job clients that have none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_coordinator::{Client, CoordinatorConfig, Error};
use pathgrid_node::NodeConfig;
use pathgrid_pricing::{JobSpec, parse_spec, price_job_sequential};
use pathgrid_proto::tls::{ClientTls, ServerTls, TlsError};
use pathgrid_tests::cluster::{Coordinator, LIMIT, Node};
use pathgrid_tests::pki::TestPki;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "tok-5e1d0c7a9b3f4e21";

fn spec(name: &str) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "{name}", "seed": 11, "paths": 4000, "training_paths": 2000, "batch_size": 1000,
        "instruments": [ {{ "id": "put",
          "model": {{ "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 }},
          "payoff": {{ "type": "put", "strike": 40.0 }},
          "exercise": {{ "style": "bermudan", "maturity": 1.0, "steps": 10 }} }} ] }}"#
    ))
    .unwrap()
}

fn server_config(pki: &TestPki, mutual: bool) -> CoordinatorConfig {
    let client_ca = mutual.then_some(pki.ca.as_bytes());
    CoordinatorConfig {
        token: Some(TOKEN.into()),
        tls: Some(ServerTls::from_pem(&pki.server_cert, &pki.server_key, client_ca)),
        ..CoordinatorConfig::default()
    }
}

fn tls_node(url: &str, name: &str, tls: Option<ClientTls>) -> NodeConfig {
    let mut c = NodeConfig::new(url);
    c.node_id = name.into();
    c.slots = 1;
    c.token = Some(TOKEN.into());
    c.tls = tls;
    c
}

/// A TCP relay from a loopback port to `upstream` that keeps every byte it relays, both ways.
async fn recording_proxy(upstream: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((down, _)) = listener.accept().await {
            let Ok(up) = TcpStream::connect(&upstream).await else { continue };
            let (mut dr, mut dw) = down.into_split();
            let (mut ur, mut uw) = up.into_split();
            let (r1, r2) = (record.clone(), record.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 << 10];
                while let Ok(n @ 1..) = dr.read(&mut buf).await {
                    r1.lock().unwrap().extend_from_slice(&buf[..n]);
                    if uw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 << 10];
                while let Ok(n @ 1..) = ur.read(&mut buf).await {
                    r2.lock().unwrap().extend_from_slice(&buf[..n]);
                    if dw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs a job with the node and the client both going through a recording proxy; returns
/// what crossed the wire and whether the prices equal the sequential reference.
///
/// HTTP/2 Huffman-codes header values, so a clear-text token in the client's `authorization`
/// header would not show verbatim; the node's `Hello` carries the token in its message body,
/// which does, as does the job's name in the client's `Submit`.
async fn job_through_proxy(coord: &Coordinator, scheme: &str, tls: Option<&ClientTls>) -> (Vec<u8>, bool) {
    let (proxy, seen) = recording_proxy(coord.addr().to_string()).await;
    let url = format!("{scheme}://{proxy}");
    let node = Node::with_config(tls_node(&url, &format!("{scheme}-node"), tls.cloned()));
    let mut client = Client::connect_with(&url, Some(TOKEN), tls).await.unwrap();
    let s = spec(&format!("over-{scheme}"));
    let id = client.submit(&s).await.unwrap();
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    node.stop().await;
    let reference = price_job_sequential(&s.validate().unwrap()).unwrap();
    let same = result.results == reference;
    let bytes = seen.lock().unwrap().clone();
    (bytes, same)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_over_tls_prices_like_the_reference_and_hides_the_token() {
    let pki = TestPki::new("tls");
    let coord = Coordinator::start(server_config(&pki, false)).await;
    assert!(coord.url.starts_with("https://"));
    let (wire, same) = job_through_proxy(&coord, "https", Some(&ClientTls::from_pem(&pki.ca))).await;
    assert!(same, "the job over TLS differs from the sequential reference");
    assert!(wire.len() > 1000, "the proxy recorded only {} bytes", wire.len());
    assert!(!contains(&wire, TOKEN.as_bytes()), "the token crossed the socket in clear over https");
    assert!(!contains(&wire, b"over-https"), "the job's name crossed the socket in clear over https");
    coord.stop().await;

    // The same recording over http shows the token and the name: the checks above can fail.
    let clear =
        Coordinator::start(CoordinatorConfig { token: Some(TOKEN.into()), ..CoordinatorConfig::default() }).await;
    let (wire, same) = job_through_proxy(&clear, "http", None).await;
    assert!(same);
    assert!(contains(&wire, b"over-http"), "the recording missed the clear-text job name");
    assert!(contains(&wire, TOKEN.as_bytes()), "the recording missed the clear-text token");
    clear.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_urls_and_certificates_are_refused_never_downgraded() {
    let pki = TestPki::new("refuse");
    let coord = Coordinator::start(server_config(&pki, false)).await;
    let ca = ClientTls::from_pem(&pki.ca);

    // https:// without a CA, and http:// with TLS settings: refused before dialing.
    let e = Client::connect_with(&coord.url, Some(TOKEN), None).await.unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::HttpsWithoutCa { .. })), "{e}");
    assert!(e.to_string().contains("--tls-ca"), "{e}");
    let http = format!("http://{}", coord.addr());
    let e = Client::connect_with(&http, Some(TOKEN), Some(&ca)).await.unwrap_err();
    assert!(matches!(e, Error::Tls(TlsError::TlsWithHttp { .. })), "{e}");

    // A certificate from another CA does not pass the handshake.
    let stranger = ClientTls::from_pem(TestPki::new("stranger").ca);
    let refused = match Client::connect_with(&coord.url, Some(TOKEN), Some(&stranger)).await {
        Err(_) => true,
        Ok(mut c) => c.list_nodes().await.is_err(),
    };
    assert!(refused, "a client trusting another CA got through");

    // Clear text to the TLS port gets nowhere.
    let refused = match Client::connect(&http, Some(TOKEN)).await {
        Err(_) => true,
        Ok(mut c) => c.list_nodes().await.is_err(),
    };
    assert!(refused, "a clear-text client was served by a TLS coordinator");

    // A node configured for https without a CA stops at once with a configuration error.
    let e = Node::with_config(tls_node(&coord.url, "no-ca", None)).ended().await.unwrap_err();
    assert!(matches!(e, pathgrid_node::Error::Config(_)), "{e}");

    // The right CA, also when the name to check is given explicitly.
    let named = ClientTls::from_pem(&pki.ca).with_domain("localhost");
    Client::connect_with(&coord.url, Some(TOKEN), Some(&named)).await.unwrap().list_nodes().await.unwrap();
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_turns_away_nodes_without_a_certificate() {
    let pki = TestPki::new("mtls");
    let coord = Coordinator::start(server_config(&pki, true)).await;
    let ca = ClientTls::from_pem(&pki.ca);

    let e = Node::with_config(tls_node(&coord.url, "anonymous", Some(ca.clone()))).ended().await.unwrap_err();
    assert!(matches!(&e, pathgrid_node::Error::Rejected(m) if m.contains("certificate")), "{e}");

    let with_cert = ca.clone().with_identity(&pki.node_cert, &pki.node_key);
    let node = Node::with_config(tls_node(&coord.url, "certified", Some(with_cert)));
    // A job client needs no certificate: the token is its credential.
    let mut client = Client::connect_with(&coord.url, Some(TOKEN), Some(&ca)).await.unwrap();
    let s = spec("mtls");
    let id = client.submit(&s).await.unwrap();
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(result.results, price_job_sequential(&s.validate().unwrap()).unwrap());
    let nodes = client.list_nodes().await.unwrap();
    assert_eq!(nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["certified"]);
    node.stop().await;
    coord.stop().await;
}
