//! The embedded cluster behind `pathgrid run`: a coordinator on 127.0.0.1:0 plus
//! in-process nodes talking real gRPC to it — the same code path as a real cluster.

use pathgrid_coordinator::client::terminal_result;
use pathgrid_coordinator::{Cluster, CoordinatorConfig, Error, Progress, serve};
use pathgrid_pricing::{JobResult, JobSpec};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// In-process nodes.
    pub nodes: usize,
    /// Slots (concurrent tasks) per node.
    pub slots_per_node: usize,
    /// Training-batch memory budget per node, in bytes.
    pub memory_budget: usize,
}

impl EmbeddedOptions {
    pub fn new(nodes: usize) -> Self {
        EmbeddedOptions { nodes: nodes.max(1), slots_per_node: 1, memory_budget: 1 << 30 }
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
    mut progress: impl FnMut(Progress),
) -> Result<JobResult, Error> {
    spec.validate()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    // Loopback only, but still keep other local users' processes out.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let token = format!("{:x}{:x}", nanos, std::process::id());
    let config = CoordinatorConfig {
        token: Some(token.clone()),
        release_nodes_on_shutdown: true,
        ..CoordinatorConfig::default()
    };
    let shutdown = CancellationToken::new();
    let cluster = Cluster::start(&config, shutdown.clone()).await?;
    let server = tokio::spawn(serve(listener, config, cluster.clone(), shutdown.clone()));
    let url = format!("http://{addr}");
    let node_tasks: Vec<_> = (0..options.nodes.max(1))
        .map(|i| {
            let mut nc = pathgrid_node::NodeConfig::new(url.clone());
            nc.slots = options.slots_per_node.max(1);
            nc.token = Some(token.clone());
            nc.node_id = format!("embedded-{i}");
            nc.memory_budget = options.memory_budget;
            tokio::spawn(pathgrid_node::run(nc, shutdown.child_token()))
        })
        .collect();
    let outcome = async {
        let id = cluster.submit(spec).await?;
        cluster.wait(&id, |p| progress(p.clone())).await
    }
    .await;
    shutdown.cancel();
    for n in node_tasks {
        match n.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "embedded node failed"),
            Err(e) => tracing::warn!(error = %e, "embedded node panicked"),
        }
    }
    match server.await {
        Ok(r) => r?,
        Err(e) => return Err(Error::Node(format!("coordinator task: {e}"))),
    }
    cluster.stopped().await;
    terminal_result(outcome?)
}
