//! The `pathgrid` binary's token and TLS options: a coordinator, a node and a client that
//! take their token from files and talk TLS; every refusal (https without a CA, TLS options
//! with http, a certificate file without a certificate, two token sources, a Batch job of
//! several nodes without its secret) exits 2 and names the option at fault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_tests::pki::TestPki;
use pathgrid_tests::{Proc, free_port, pathgrid_within};
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn refused(args: &[&str], names: &[&str]) {
    let out = pathgrid_within(LIMIT, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "pathgrid {args:?}: {stderr}");
    for n in names {
        assert!(stderr.contains(n), "pathgrid {args:?} does not name {n:?}: {stderr}");
    }
}

#[test]
fn bad_token_and_tls_settings_exit_2_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("cli").write(dir.path());
    let ca = pki.ca.to_str().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let empty = empty.to_str().unwrap();
    let dead = format!("127.0.0.1:{}", free_port());
    let https = format!("https://{dead}");
    let http = format!("http://{dead}");

    refused(&["jobs", "--coordinator", &https], &["--tls-ca", "clear text"]);
    refused(&["node", "--coordinator", &https], &["--tls-ca"]);
    refused(&["jobs", "--coordinator", &http, "--tls-ca", ca], &["http://", "https://"]);
    refused(&["jobs", "--coordinator", &https, "--tls-ca", empty], &["--tls-ca", "no PEM certificate"]);
    refused(&["jobs", "--coordinator", &https, "--tls-ca", "/no/such/ca.pem"], &["--tls-ca", "/no/such/ca.pem"]);
    refused(&["jobs", "--coordinator", &http, "--token-file", empty], &["--token-file", "empty"]);
    refused(&["jobs", "--coordinator", &http, "--token", "a", "--token-file", empty], &["--token", "--token-file"]);
    refused(&["coordinator", "--listen", &dead, "--tls-cert", pki.server_cert.to_str().unwrap()], &["--tls-key"]);
    refused(
        &["coordinator", "--listen", &dead, "--tls-cert", ca, "--tls-key", pki.server_cert.to_str().unwrap()],
        &["--tls-key", "no PEM private key"],
    );
}

/// Waits until something accepts connections on `addr` (the coordinator process has started).
fn wait_for_port(addr: &str) {
    let deadline = std::time::Instant::now() + LIMIT;
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_tls_cluster_with_token_files_prices_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("cli-run").write(dir.path());
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token-20a9f3\n").unwrap();
    let (ca, tf) = (pki.ca.to_str().unwrap(), token_file.to_str().unwrap());
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("https://{listen}");
    let (cert, key) = (pki.server_cert.to_str().unwrap(), pki.server_key.to_str().unwrap());
    let (node_cert, node_key) = (pki.node_cert.to_str().unwrap(), pki.node_key.to_str().unwrap());

    let coordinator = Proc::pathgrid(
        dir.path(),
        "coordinator",
        &[
            "coordinator",
            "--listen",
            &listen,
            "--token-file",
            tf,
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--tls-client-ca",
            ca,
        ],
    );
    let node = Proc::pathgrid(
        dir.path(),
        "node",
        &[
            "node",
            "--coordinator",
            &url,
            "--slots",
            "1",
            "--token-file",
            tf,
            "--tls-ca",
            ca,
            "--tls-cert",
            node_cert,
            "--tls-key",
            node_key,
        ],
    );
    wait_for_port(&listen);
    let submit = pathgrid_within(
        Duration::from_secs(240),
        &[
            "submit",
            "examples/ls2001-put.json",
            "--paths",
            "2000",
            "--coordinator",
            &url,
            "--tls-ca",
            ca,
            "--token-file",
            tf,
            "--watch",
            "--json",
            "--quiet",
            "--reconnect-secs",
            "60",
        ],
    );
    let stderr = String::from_utf8_lossy(&submit.stderr);
    assert_eq!(
        submit.status.code(),
        Some(0),
        "submit over TLS failed: {stderr}\ncoordinator: {}",
        coordinator.stderr()
    );
    let result: serde_json::Value = serde_json::from_slice(&submit.stdout).unwrap();
    assert_eq!(result["status"], "succeeded", "{result}");
    assert!(result["results"][0]["price"].as_f64().is_some_and(|p| p > 0.0), "{result}");

    // The token never shows in a log.
    for log in [coordinator.stderr(), node.stderr(), stderr.to_string()] {
        assert!(!log.contains("file-token-20a9f3"), "a log shows the token:\n{log}");
    }
    node.kill();
    coordinator.kill();
}

/// A child node of a multi-node Batch job without `PATHGRID_TOKEN` stops at once (exit 2, so
/// Batch does not retry), naming the variable and the secret it comes from. It no longer falls
/// back to the job id, which anyone allowed to describe jobs can read.
#[test]
fn a_batch_child_without_its_token_secret_exits_2() {
    let mut cmd = Command::new(pathgrid_tests::pathgrid_bin());
    cmd.arg("batch")
        .env_remove("PATHGRID_TOKEN")
        .env_remove("PATHGRID_TOKEN_FILE")
        .env("AWS_BATCH_JOB_NODE_INDEX", "1")
        .env("AWS_BATCH_JOB_MAIN_NODE_INDEX", "0")
        .env("AWS_BATCH_JOB_NUM_NODES", "3")
        .env("AWS_BATCH_JOB_ID", "job-id-is-not-a-secret")
        .env("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS", "127.0.0.1")
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PATHGRID_TOKEN") && stderr.contains("Secrets Manager"), "{stderr}");
}
