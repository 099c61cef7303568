//! The cluster over real gRPC on 127.0.0.1 ephemeral ports: results bit-identical to the
//! sequential reference, node loss mid-training and mid-pricing, auth, protocol abuse,
//! cancellation. No sleeps as synchronisation: tests wait on progress events and streams,
//! bounded by timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_coordinator::{Client, CoordinatorConfig, JobPhase, Progress};
use pathgrid_pricing::{InstrumentResult, JobSpec, parse_spec, price_job_sequential};
use pathgrid_proto::v1::{self, node_message::Msg as Up, workers_client::WorkersClient};
use pathgrid_tests::cluster::{Coordinator, LIMIT, Node};
use tokio_stream::StreamExt;

fn ls2001(paths: u64, batch: u64) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "ls2001-put", "seed": 42, "paths": {paths}, "training_paths": {paths}, "batch_size": {batch},
        "instruments": [ {{ "id": "put-36",
          "model": {{ "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06 }},
          "payoff": {{ "type": "put", "strike": 40.0 }},
          "exercise": {{ "style": "american", "maturity": 1.0, "steps": 50 }} }} ] }}"#
    ))
    .unwrap()
}

fn max_call(paths: u64, batch: u64) -> JobSpec {
    parse_spec(&format!(
        r#"{{ "name": "max-call-5", "seed": 7, "paths": {paths}, "training_paths": {paths}, "batch_size": {batch},
        "instruments": [ {{ "id": "max-call",
          "model": {{ "type": "gbm", "spot": [100, 100, 100, 100, 100], "vol": 0.2, "rate": 0.05, "dividend": 0.1 }},
          "payoff": {{ "type": "max_call", "strike": 100.0 }},
          "exercise": {{ "style": "bermudan", "maturity": 3.0, "steps": 9 }} }} ] }}"#
    ))
    .unwrap()
}

fn reference(spec: &JobSpec) -> Vec<InstrumentResult> {
    let job = spec.validate().unwrap();
    price_job_sequential(&job).unwrap()
}

/// Follows a job until `until` says so or it ends; returns the last event seen.
async fn follow(client: &mut Client, id: &str, mut until: impl FnMut(&Progress) -> bool) -> Progress {
    let mut stream = std::pin::pin!(client.watch(id).await.unwrap());
    let mut last = None;
    while let Some(p) = tokio::time::timeout(LIMIT, stream.next()).await.expect("watch timed out") {
        let p = p.unwrap();
        let stop = p.is_terminal() || until(&p);
        last = Some(p);
        if stop {
            break;
        }
    }
    last.expect("no event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_bit_identical_put_and_max_call() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let nodes: Vec<Node> = (0..3).map(|i| Node::start(&coord.url, &format!("n{i}"), 1, None)).collect();
    let mut client = coord.client(None).await;
    for spec in [ls2001(20_000, 2048), max_call(20_000, 2048)] {
        let id = client.submit(&spec).await.unwrap();
        let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
        assert_eq!(result.results, reference(&spec), "{}", spec.name);
        assert_eq!(result.job_id, id);
        let got = client.get(&id).await.unwrap();
        assert_eq!(got.phase, JobPhase::Succeeded);
    }
    let listed = client.list_nodes().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().map(|n| n.tasks_done).sum::<u64>() > 0);
    for n in nodes {
        n.stop().await;
    }
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_killed_mid_training_and_mid_pricing() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let mut nodes: Vec<Option<Node>> =
        (0..3).map(|i| Some(Node::start(&coord.url, &format!("k{i}"), 1, None))).collect();
    let mut client = coord.client(None).await;
    let spec = ls2001(40_000, 1024);
    let id = client.submit(&spec).await.unwrap();
    // Mid-training: a few dates solved, many to go.
    let p = follow(&mut client, &id, |p| p.phase == JobPhase::Training && p.date.is_some_and(|d| d < 40)).await;
    assert_eq!(p.phase, JobPhase::Training, "job ended before the kill");
    nodes[0].take().unwrap().kill().await;
    let p = follow(&mut client, &id, |p| p.phase == JobPhase::Pricing).await;
    assert_eq!(p.phase, JobPhase::Pricing, "job ended before the kill");
    nodes[1].take().unwrap().kill().await;
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(result.results, reference(&spec));
    nodes[2].take().unwrap().stop().await;
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_rejected() {
    let config = CoordinatorConfig { token: Some("right".into()), ..CoordinatorConfig::default() };
    let coord = Coordinator::start(config).await;
    // A node with the wrong token gives up at once with `Rejected`.
    let bad = Node::start(&coord.url, "intruder", 1, Some("wrong"));
    let err = bad.ended().await.unwrap_err();
    assert!(matches!(err, pathgrid_node::Error::Rejected(_)), "{err}");
    // A client without a token is refused too.
    let mut anon = coord.client(None).await;
    let err = anon.list_nodes().await.unwrap_err();
    assert!(
        matches!(&err, pathgrid_coordinator::Error::Status(s) if s.code() == tonic::Code::Unauthenticated),
        "{err}"
    );
    // The right token works end to end.
    let good = Node::start(&coord.url, "friend", 1, Some("right"));
    let mut client = coord.client(Some("right")).await;
    let spec = ls2001(4_000, 1024);
    let id = client.submit(&spec).await.unwrap();
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(result.results, reference(&spec));
    let names: Vec<String> = client.list_nodes().await.unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["friend"]);
    good.stop().await;
    coord.stop().await;
}

/// Opens a raw Attach stream, says hello, returns the sender and the response stream.
async fn raw_attach(
    url: &str,
    name: &str,
) -> (tokio::sync::mpsc::Sender<v1::NodeMessage>, tonic::Streaming<v1::CoordinatorMessage>) {
    let mut client = WorkersClient::connect(url.to_string()).await.unwrap().max_encoding_message_size(64 << 20);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let hello = v1::Hello { node_id: name.into(), slots: 1, version: "test".into(), token: String::new() };
    tx.send(v1::NodeMessage { msg: Some(Up::Hello(hello)) }).await.unwrap();
    let mut stream = client.attach(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    let welcome = stream.message().await.unwrap().unwrap();
    assert!(matches!(welcome.msg, Some(v1::coordinator_message::Msg::Welcome(_))));
    (tx, stream)
}

/// Reads until the stream ends; returns the error status if it ended with one.
async fn drain(stream: &mut tonic::Streaming<v1::CoordinatorMessage>) -> Option<tonic::Status> {
    loop {
        match tokio::time::timeout(LIMIT, stream.message()).await.expect("stream not closed") {
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(s) => return Some(s),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_messages_close_only_that_stream() {
    let config = CoordinatorConfig { max_message_bytes: 1 << 20, ..CoordinatorConfig::default() };
    let coord = Coordinator::start(config).await;
    let good = Node::start(&coord.url, "good", 1, None);
    let mut client = coord.client(None).await;

    // An empty NodeMessage (no oneof set) is a protocol violation.
    let (tx, mut stream) = raw_attach(&coord.url, "garbage").await;
    tx.send(v1::NodeMessage { msg: None }).await.unwrap();
    let status = drain(&mut stream).await.expect("closed with a status");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("msg"), "{}", status.message());

    // A result with inconsistent statistics (ata length does not match dim).
    let (tx, mut stream) = raw_attach(&coord.url, "liar").await;
    let bad = v1::TaskResult {
        task_id: 1,
        stats: Some(v1::task_result::Stats::Regression(v1::RegressionStats {
            dim: 3,
            count: 1,
            ata: vec![1.0],
            aty: vec![1.0; 3],
        })),
        compute_micros: 0,
    };
    tx.send(v1::NodeMessage { msg: Some(Up::Result(bad)) }).await.unwrap();
    let status = drain(&mut stream).await.expect("closed with a status");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    // A message over the 1 MiB limit.
    let (tx, mut stream) = raw_attach(&coord.url, "big").await;
    let huge = v1::TaskError { task_id: 1, code: v1::TaskErrorCode::Fatal as i32, message: "x".repeat(2 << 20) };
    let _ = tx.send(v1::NodeMessage { msg: Some(Up::Error(huge)) }).await;
    let _ = drain(&mut stream).await;
    drop(tx);

    // Bytes that are not even HTTP/2 on a raw socket: the server drops that connection.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = coord.url.trim_start_matches("http://");
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let junk: Vec<u8> = (0..65_536)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = sock.write_all(&junk).await;
        let mut buf = vec![0u8; 4096];
        let closed = tokio::time::timeout(LIMIT, async {
            loop {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the coordinator kept a garbage connection open");
    }

    // The good node and the coordinator carry on.
    let spec = ls2001(8_000, 1024);
    let id = client.submit(&spec).await.unwrap();
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(result.results, reference(&spec));
    let names: Vec<String> = client.list_nodes().await.unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["good"]);
    good.stop().await;
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_job_and_frees_the_nodes() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let nodes: Vec<Node> = (0..2).map(|i| Node::start(&coord.url, &format!("c{i}"), 1, None)).collect();
    let mut client = coord.client(None).await;
    // Big enough never to finish within the test.
    let big = ls2001(4_000_000, 1024);
    let id = client.submit(&big).await.unwrap();
    let p = follow(&mut client, &id, |p| p.batches_done > 0).await;
    assert_eq!(p.phase, JobPhase::Training);
    assert!(client.cancel(&id).await.unwrap());
    let p = follow(&mut client, &id, |_| false).await;
    assert_eq!(p.phase, JobPhase::Cancelled);
    assert!(!client.cancel(&id).await.unwrap(), "cancelling twice is a no-op");
    // The nodes are free: a small job runs to completion right away.
    let small = ls2001(4_000, 1024);
    let id = client.submit(&small).await.unwrap();
    let result = tokio::time::timeout(LIMIT, client.wait(&id, |_| {})).await.unwrap().unwrap();
    assert_eq!(result.results, reference(&small));
    let jobs = client.list_jobs().await.unwrap();
    assert_eq!(jobs.len(), 2);
    for n in nodes {
        n.stop().await;
    }
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_spec_is_rejected_with_the_field() {
    let coord = Coordinator::start(CoordinatorConfig::default()).await;
    let mut client = coord.client(None).await;
    let mut spec = ls2001(1000, 100);
    spec.paths = 0;
    let err = client.submit(&spec).await.unwrap_err();
    match err {
        pathgrid_coordinator::Error::Status(s) => {
            assert_eq!(s.code(), tonic::Code::InvalidArgument);
            assert!(s.message().contains("paths"), "{}", s.message());
        }
        e => panic!("{e}"),
    }
    let err = client.get("nope").await.unwrap_err();
    assert!(matches!(err, pathgrid_coordinator::Error::Status(s) if s.code() == tonic::Code::NotFound));
    coord.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_cluster_matches_reference() {
    let spec = max_call(8_000, 1024);
    let mut events = 0;
    let result = pathgrid_cli::embedded::run_embedded(spec.clone(), 2, |_| events += 1).await.unwrap();
    assert_eq!(result.results, reference(&spec));
    assert!(events > 0);
    assert_eq!(result.stats.paths, 8_000);
}
