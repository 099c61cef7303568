//! An in-process coordinator and nodes on 127.0.0.1, for the tests that drive the real gRPC
//! services (`cluster_grpc`, `hostile_cluster`, `cluster_tls`).

use pathgrid_coordinator::{Client, Cluster, CoordinatorConfig, Error};
use pathgrid_node::NodeConfig;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a stop may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(120);

/// A coordinator serving on an ephemeral loopback port until [`Coordinator::stop`].
#[derive(Debug)]
pub struct Coordinator {
    /// `http://127.0.0.1:<port>`, or `https://…` when the config has TLS.
    pub url: String,
    cluster: Cluster,
    shutdown: CancellationToken,
    join: JoinHandle<Result<(), Error>>,
}

impl Coordinator {
    pub async fn start(config: CoordinatorConfig) -> Coordinator {
        // What `pathgrid_coordinator::run` does, keeping the cluster for inspection.
        let shutdown = CancellationToken::new();
        let cluster = Cluster::start(&config, shutdown.clone()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let join = tokio::spawn(pathgrid_coordinator::serve(listener, config, cluster.clone(), shutdown.clone()));
        Coordinator { url, cluster, shutdown, join }
    }

    /// The cluster behind the services (scheduler counters, jobs).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The loopback address, without the scheme.
    pub fn addr(&self) -> &str {
        self.url.split_once("://").map_or(&self.url, |(_, a)| a)
    }

    pub async fn client(&self, token: Option<&str>) -> Client {
        Client::connect(&self.url, token).await.unwrap()
    }

    /// Stops it and checks that it stopped cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(LIMIT, self.join).await.unwrap().unwrap().unwrap();
        tokio::time::timeout(LIMIT, self.cluster.stopped()).await.unwrap();
    }
}

/// A node task attached to a coordinator until [`Node::stop`] or [`Node::kill`].
#[derive(Debug)]
pub struct Node {
    shutdown: CancellationToken,
    join: JoinHandle<Result<(), pathgrid_node::Error>>,
}

impl Node {
    /// A node named `name` with `slots` slots, reconnecting quickly (at most every 500 ms).
    pub fn start(url: &str, name: &str, slots: usize, token: Option<&str>) -> Node {
        let mut c = NodeConfig::new(url);
        c.node_id = name.to_string();
        c.slots = slots;
        c.token = token.map(str::to_string);
        c.backoff_max = Duration::from_millis(500);
        Node::with_config(c)
    }

    pub fn with_config(config: NodeConfig) -> Node {
        let shutdown = CancellationToken::new();
        let join = tokio::spawn(pathgrid_node::run(config, shutdown.clone()));
        Node { shutdown, join }
    }

    /// Hard kill: the task is aborted mid-flight, its connection dropped.
    pub async fn kill(self) {
        self.join.abort();
        let _ = self.join.await;
    }

    /// Stops it and checks that it stopped cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(LIMIT, self.join).await.unwrap().unwrap().unwrap();
    }

    /// Waits for the node to end by itself (refused, released or given up) and returns how.
    pub async fn ended(self) -> Result<(), pathgrid_node::Error> {
        tokio::time::timeout(LIMIT, self.join).await.unwrap().unwrap()
    }
}
