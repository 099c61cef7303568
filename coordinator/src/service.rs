//! gRPC services (`Jobs` for clients, `Workers` for nodes) and the coordinator's entry point.

use crate::cluster::Cluster;
use crate::config::CoordinatorConfig;
use crate::error::Error;
use crate::session::{Outbound, SessionFactory};
use crate::standard;
use pathgrid_proto::auth::CheckToken;
use pathgrid_proto::convert;
use pathgrid_proto::v1::{self, jobs_server::JobsServer, workers_server::WorkersServer};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};

// ------------------------------------------------------------------ services

#[derive(Debug, Clone)]
struct JobsService {
    cluster: Cluster,
}

#[tonic::async_trait]
impl v1::jobs_server::Jobs for JobsService {
    async fn submit(&self, request: Request<v1::SubmitRequest>) -> Result<Response<v1::JobId>, Status> {
        let spec = request.into_inner().spec.ok_or_else(|| Status::invalid_argument("spec: missing"))?;
        let spec = convert::spec_from_proto(&spec)?;
        let id = self.cluster.submit(spec).await?;
        Ok(Response::new(v1::JobId { id }))
    }

    type WatchStream = ReceiverStream<Result<v1::JobEvent, Status>>;

    async fn watch(&self, request: Request<v1::JobId>) -> Result<Response<Self::WatchStream>, Status> {
        let mut rx = self.cluster.watch(&request.into_inner().id).await?;
        let (tx, out) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let p = rx.borrow_and_update().clone();
                if tx.send(Ok(convert::progress_to_proto(&p))).await.is_err() || p.is_terminal() {
                    return;
                }
                if rx.changed().await.is_err() {
                    let _ = tx.send(Err(Status::unavailable("the coordinator is shutting down"))).await;
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(out)))
    }

    async fn get(&self, request: Request<v1::JobId>) -> Result<Response<v1::JobEvent>, Status> {
        let p = self.cluster.get(&request.into_inner().id).await?;
        Ok(Response::new(convert::progress_to_proto(&p)))
    }

    async fn cancel(&self, request: Request<v1::JobId>) -> Result<Response<v1::CancelReply>, Status> {
        let cancelled = self.cluster.cancel(&request.into_inner().id).await?;
        Ok(Response::new(v1::CancelReply { cancelled }))
    }

    async fn list_nodes(&self, _: Request<v1::ListNodesRequest>) -> Result<Response<v1::NodeList>, Status> {
        let nodes = self.cluster.list_nodes().await.iter().map(convert::node_to_proto).collect();
        Ok(Response::new(v1::NodeList { nodes }))
    }

    async fn list_jobs(&self, _: Request<v1::ListJobsRequest>) -> Result<Response<v1::JobList>, Status> {
        let jobs = self.cluster.list_jobs().await?.iter().map(convert::progress_to_proto).collect();
        Ok(Response::new(v1::JobList { jobs }))
    }
}

#[derive(Debug, Clone)]
struct WorkersService {
    sessions: Arc<SessionFactory>,
}

#[tonic::async_trait]
impl v1::workers_server::Workers for WorkersService {
    type AttachStream = Outbound;

    async fn attach(
        &self,
        request: Request<Streaming<v1::NodeMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        // With mutual TLS, a node must have shown a certificate the client CA signed (the
        // handshake already checked any certificate shown; `Jobs` clients need none).
        if self.sessions.config.tls.as_ref().is_some_and(|t| t.requires_node_certificates())
            && request.peer_certs().is_none_or(|c| c.is_empty())
        {
            return Err(Status::unauthenticated("nodes must present a client certificate (mutual TLS)"));
        }
        Ok(Response::new(self.sessions.attach(request.into_inner()).await?))
    }
}

/// Runs a coordinator on `listener` until `shutdown` fires: resumes checkpointed jobs,
/// serves `Jobs` and `Workers` (and health and reflection), then stops accepting, tells the nodes, lets the job
/// actors write their last checkpoints, and returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: CoordinatorConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let cluster = Cluster::start(&config, shutdown.clone()).await?;
    let result = serve(listener, config, cluster.clone(), shutdown.clone()).await;
    shutdown.cancel();
    cluster.stopped().await;
    result
}

/// Serves the gRPC services of an already started [`Cluster`] until `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: CoordinatorConfig,
    cluster: Cluster,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let addr = listener.local_addr()?;
    let check = CheckToken::new(config.token.as_deref());
    let limit = config.max_message_bytes;
    let jobs = JobsServer::new(JobsService { cluster: cluster.clone() })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let grace = config.shutdown_grace;
    let sessions = Arc::new(SessionFactory {
        sched: cluster.scheduler().clone(),
        check: check.clone(),
        next: AtomicU64::new(1),
        shutdown: shutdown.clone(),
        config: Arc::new(config.clone()),
    });
    let workers = WorkersServer::new(WorkersService { sessions })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(tls.config()).map_err(|e| Error::Config(format!("TLS: {e}")))?;
    }
    tracing::info!(%addr, tls = config.tls.is_some(), mutual_tls = config.tls.as_ref().is_some_and(|t| t.requires_node_certificates()), "coordinator listening");
    let router = builder
        .http2_keepalive_interval(Some(config.keepalive_interval))
        .http2_keepalive_timeout(Some(config.keepalive_timeout))
        .tcp_keepalive(Some(config.keepalive_interval))
        .tcp_nodelay(true)
        .add_service(InterceptedService::new(jobs, check.clone()))
        .add_service(InterceptedService::new(workers, check));
    let (router, health) = standard::add(router).await?;
    let stop = shutdown.clone();
    let server = router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
        stop.cancelled().await;
        health.not_serving().await;
    });
    tokio::pin!(server);
    tokio::select! {
        r = &mut server => r?,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("streams still open after the shutdown grace period; closing");
        }
    }
    tracing::info!(%addr, "coordinator stopped");
    Ok(())
}
