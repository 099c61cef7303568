//! The coordinator's standard gRPC surface, seen by clients that have no copy of our proto:
//! a Python client (grpcio, grpcio-health-checking, grpcio-reflection; installed by
//! `scripts/setup.sh --tests`) checks health and discovers the API through reflection, and a
//! health `Watch` sees NOT_SERVING when the coordinator shuts down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_coordinator::CoordinatorConfig;
use std::time::Duration;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

const LIMIT: Duration = Duration::from_secs(120);
const TOKEN: &str = "surface-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_checks_health_and_discovers_the_api() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = CoordinatorConfig { token: Some(TOKEN.into()), ..CoordinatorConfig::default() };
    let shutdown = CancellationToken::new();
    let coordinator = tokio::spawn(pathgrid_coordinator::run(listener, config, shutdown.clone()));

    let script = pathgrid_tests::workspace_root().join("tests/python/grpc_surface.py");
    let out = tokio::time::timeout(
        LIMIT,
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("python3").arg(&script).arg(addr.to_string()).arg(TOKEN).output()
        }),
    )
    .await
    .expect("the Python client hung")
    .unwrap()
    .expect("python3 did not start (run scripts/setup.sh --tests)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "grpc_surface.py failed:\n{stdout}\n{stderr}");
    for line in [
        "health (server): SERVING",
        "health pathgrid.v1.Jobs: SERVING",
        "health pathgrid.v1.Workers: SERVING",
        "ListNodes without the token: UNAUTHENTICATED",
        "ListNodes with the token: 0 nodes",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line {line:?} in:\n{stdout}");
    }
    let services = stdout.lines().find_map(|l| l.strip_prefix("services: ")).expect("no services line");
    let services: Vec<&str> = services.split(' ').collect();
    for wanted in ["pathgrid.v1.Jobs", "pathgrid.v1.Workers", "grpc.health.v1.Health"] {
        assert!(services.contains(&wanted), "{wanted} not listed: {services:?}");
    }

    // A health watcher (as a load balancer keeps one) sees the shutdown, then its stream ends.
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel);
    let mut watch = health.watch(HealthCheckRequest { service: "pathgrid.v1.Jobs".into() }).await.unwrap().into_inner();
    let first = tokio::time::timeout(LIMIT, watch.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    shutdown.cancel();
    let next = tokio::time::timeout(LIMIT, watch.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    let end = tokio::time::timeout(LIMIT, watch.next()).await.unwrap();
    assert!(end.as_ref().is_none_or(|r| r.is_err()), "the watch went on after NOT_SERVING: {end:?}");
    tokio::time::timeout(LIMIT, coordinator).await.unwrap().unwrap().unwrap();
}
