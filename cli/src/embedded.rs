//! A coordinator with in-process nodes, talking real gRPC: the embedded cluster behind
//! `pathgrid run` (on loopback) and the main node of `pathgrid batch` (on the job's
//! network) — the same code path as a cluster of separate machines.

use pathgrid_coordinator::client::terminal_result;
use pathgrid_coordinator::{Cluster, CoordinatorConfig, Error, Progress, serve};
use pathgrid_pricing::JobSpec;
use pathgrid_protocol::JobResult;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// In-process nodes.
    pub nodes: usize,
    /// Slots (concurrent tasks) per node.
    pub slots_per_node: usize,
    /// Training-batch memory budget per node, in bytes (default 4 GiB, as `pathgrid node`:
    /// all legs of an option train at once, and batches beyond the budget are regenerated
    /// every round).
    pub memory_budget: usize,
}

impl EmbeddedOptions {
    pub fn new(nodes: usize) -> Self {
        EmbeddedOptions { nodes: nodes.max(1), slots_per_node: 1, memory_budget: 4 << 30 }
    }
}

/// A running coordinator plus its in-process nodes.
#[derive(Debug)]
pub struct ClusterHost {
    cluster: Cluster,
    shutdown: CancellationToken,
    server: JoinHandle<Result<(), Error>>,
    nodes: Vec<JoinHandle<Result<(), pathgrid_node::Error>>>,
}

impl ClusterHost {
    /// Serves `config` on `listener` and attaches `options.nodes` in-process nodes to it.
    pub async fn start(
        listener: tokio::net::TcpListener,
        config: CoordinatorConfig,
        options: &EmbeddedOptions,
    ) -> Result<ClusterHost, Error> {
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let cluster = Cluster::start(&config, shutdown.clone()).await?;
        let token = config.token.clone();
        let server = tokio::spawn(serve(listener, config, cluster.clone(), shutdown.clone()));
        // The nodes dial the listener through loopback even when it listens on all interfaces.
        let url = format!("http://127.0.0.1:{}", addr.port());
        let nodes = (0..options.nodes)
            .map(|i| {
                let mut nc = pathgrid_node::NodeConfig::new(url.clone());
                nc.slots = options.slots_per_node.max(1);
                nc.token = token.clone();
                nc.node_id = format!("embedded-{i}");
                nc.memory_budget = options.memory_budget;
                tokio::spawn(pathgrid_node::run(nc, shutdown.child_token()))
            })
            .collect();
        Ok(ClusterHost { cluster, shutdown, server, nodes })
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Submits a job and waits for its end.
    pub async fn run_job(&self, spec: JobSpec, progress: impl FnMut(Progress)) -> Result<JobResult, Error> {
        let id = self.cluster.submit(spec).await?;
        self.wait_job(&id, progress).await
    }

    /// Waits for a job this coordinator knows (submitted, or resumed from a checkpoint).
    pub async fn wait_job(&self, id: &str, mut progress: impl FnMut(Progress)) -> Result<JobResult, Error> {
        terminal_result(self.cluster.wait(id, |p| progress(p.clone())).await?)
    }

    /// Stops the nodes and the coordinator (remote nodes are released) and waits for them.
    pub async fn stop(self) -> Result<(), Error> {
        self.shutdown.cancel();
        for n in self.nodes {
            match n.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "in-process node failed"),
                Err(e) => tracing::warn!(error = %e, "in-process node panicked"),
            }
        }
        let served = match self.server.await {
            Ok(r) => r,
            Err(e) => Err(Error::Task(e)),
        };
        self.cluster.stopped().await;
        served
    }
}

/// Runs one job on a coordinator plus `nodes` in-process nodes (one slot each) and
/// shuts everything down. An invalid spec fails fast with [`Error::InvalidSpec`].
pub async fn run_embedded(spec: JobSpec, nodes: usize, progress: impl FnMut(Progress)) -> Result<JobResult, Error> {
    run_embedded_with(spec, EmbeddedOptions::new(nodes), progress).await
}

pub async fn run_embedded_with(
    spec: JobSpec,
    options: EmbeddedOptions,
    progress: impl FnMut(Progress),
) -> Result<JobResult, Error> {
    spec.validate()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    // Loopback only, but still keep other local users' processes out: a token from the OS
    // RNG, which no one can guess (as they could the time and a process id).
    let token = pathgrid_proto::auth::random_token().map_err(|e| Error::Config(e.to_string()))?;
    let config =
        CoordinatorConfig { token: Some(token), release_nodes_on_shutdown: true, ..CoordinatorConfig::default() };
    let host = ClusterHost::start(listener, config, &options).await?;
    let outcome = host.run_job(spec, progress).await;
    let stopped = host.stop().await;
    let result = outcome?;
    stopped?;
    Ok(result)
}
