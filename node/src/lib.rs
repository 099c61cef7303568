//! pathgrid node: dials a coordinator (with exponential backoff), says Hello, runs the
//! batch tasks it is given on tokio's blocking pool (at most `slots` at once), keeps its
//! training batches in memory under a byte budget, sends heartbeats on its own timer, and
//! reconnects when the coordinator goes away.

pub mod worker;

use pathgrid_proto::auth::AddToken;
use pathgrid_proto::convert;
use pathgrid_proto::v1::{self, coordinator_message::Msg as Down, workers_client::WorkersClient};
use pathgrid_protocol::{NodeLoad, NodeTask, TaskErrorKind};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use worker::{Done, Worker};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The coordinator refused this node for good (wrong token, bad hello).
    #[error("rejected by the coordinator: {0}")]
    Rejected(String),
    #[error("gave up: no coordinator at {url} for {secs:.0} s ({last})")]
    GaveUp { url: String, secs: f64, last: String },
}

#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// e.g. `http://127.0.0.1:50051`
    pub coordinator_url: String,
    /// Tasks run at once; defaults to the number of cores.
    pub slots: usize,
    pub token: Option<String>,
    /// TLS settings for an `https://` coordinator (CA, and a certificate for mutual TLS).
    pub tls: Option<pathgrid_proto::tls::ClientTls>,
    /// Stable name of this node; a reconnect under the same name replaces the old session.
    pub node_id: String,
    /// Bytes of training batches kept in memory; beyond it batches are rebuilt on demand.
    pub memory_budget: usize,
    pub max_message_bytes: usize,
    /// Used until the coordinator's Welcome says otherwise.
    pub heartbeat_interval: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Stop dialing after this long without a coordinator (`None`: keep trying).
    pub give_up_after: Option<Duration>,
}

impl NodeConfig {
    pub fn new(coordinator_url: impl Into<String>) -> Self {
        let slots = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        NodeConfig {
            coordinator_url: coordinator_url.into(),
            slots,
            token: None,
            tls: None,
            node_id: default_node_id(),
            memory_budget: 1 << 30,
            max_message_bytes: pathgrid_proto::DEFAULT_MAX_MESSAGE_BYTES,
            heartbeat_interval: Duration::from_secs(2),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            give_up_after: None,
        }
    }
}

/// `hostname-pid`, or `node-pid` without a hostname.
pub fn default_node_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", std::process::id())
}

enum Ended {
    /// Our own shutdown token fired.
    Shutdown,
    /// The coordinator said goodbye for good.
    Released,
    /// The stream broke or the coordinator restarts: dial again.
    Lost(String),
}

/// Runs a node until `shutdown` fires or the coordinator releases it.
pub async fn run(config: NodeConfig, shutdown: CancellationToken) -> Result<(), Error> {
    if config.slots == 0 {
        return Err(Error::Config("slots must be at least 1".into()));
    }
    // The scheme decides clear text or TLS, and a mismatch with the TLS settings is an error
    // (never a fallback to clear text); a URL without a host would retry forever.
    let endpoint = pathgrid_proto::tls::endpoint(&config.coordinator_url, config.tls.as_ref())
        .map_err(|e| Error::Config(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    let token = AddToken::new(config.token.as_deref()).map_err(|e| Error::Config(e.to_string()))?;
    let mut worker = Worker::new(config.memory_budget);
    let mut backoff = config.backoff_initial;
    let mut down_since = Instant::now();
    let mut attempt: u64 = 0;
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let ended = match endpoint.connect().await {
            Ok(channel) => {
                let client = WorkersClient::with_interceptor(channel, token.clone())
                    .max_decoding_message_size(config.max_message_bytes)
                    .max_encoding_message_size(config.max_message_bytes);
                session(client, &config, &mut worker, &shutdown, &mut backoff, &mut down_since).await?
            }
            Err(e) => Ended::Lost(format!("connect: {e}")),
        };
        match ended {
            Ended::Shutdown | Ended::Released => return Ok(()),
            Ended::Lost(why) => {
                if let Some(limit) = config.give_up_after
                    && down_since.elapsed() >= limit
                {
                    return Err(Error::GaveUp {
                        url: config.coordinator_url.clone(),
                        secs: down_since.elapsed().as_secs_f64(),
                        last: why,
                    });
                }
                attempt += 1;
                // Deterministic jitter from the node id spreads reconnect storms.
                let jitter =
                    0.5 + (id_hash(&config.node_id) ^ attempt.wrapping_mul(0x9E37_79B9)) as f64 % 1000.0 / 1000.0;
                let wait = backoff.mul_f64(jitter);
                tracing::info!(node = %config.node_id, reason = %why, wait_ms = wait.as_millis() as u64, "coordinator unreachable; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(wait) => {}
                }
                backoff = (backoff * 2).min(config.backoff_max);
            }
        }
    }
}

/// FNV-1a of the node id: stable across Rust versions, unlike `DefaultHasher`.
fn id_hash(s: &str) -> u64 {
    let mut h = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut h, s.as_bytes());
    std::hash::Hasher::finish(&h)
}

type Client = WorkersClient<tonic::service::interceptor::InterceptedService<tonic::transport::Channel, AddToken>>;

async fn session(
    mut client: Client,
    config: &NodeConfig,
    worker: &mut Worker,
    shutdown: &CancellationToken,
    backoff: &mut Duration,
    down_since: &mut Instant,
) -> Result<Ended, Error> {
    let (out, out_rx) = mpsc::channel::<v1::NodeMessage>(config.slots * 2 + 64);
    let hello = convert::hello(&config.node_id, config.slots, config.token.as_deref().unwrap_or_default());
    let _ = out.try_send(hello);
    let mut inbound = match client.attach(ReceiverStream::new(out_rx)).await {
        Ok(r) => r.into_inner(),
        Err(s) if matches!(s.code(), tonic::Code::Unauthenticated | tonic::Code::InvalidArgument) => {
            return Err(Error::Rejected(s.message().to_string()));
        }
        Err(s) => return Ok(Ended::Lost(format!("attach: {}", s.message()))),
    };
    let mut heartbeat = config.heartbeat_interval;
    match inbound.message().await {
        Ok(Some(v1::CoordinatorMessage { msg: Some(Down::Welcome(w)) })) => {
            if w.heartbeat_interval_ms > 0 {
                heartbeat = Duration::from_millis(u64::from(w.heartbeat_interval_ms));
            }
        }
        Ok(_) => return Ok(Ended::Lost("no welcome".into())),
        Err(s) if s.code() == tonic::Code::Unauthenticated => return Err(Error::Rejected(s.message().to_string())),
        Err(s) => return Ok(Ended::Lost(format!("welcome: {}", s.message()))),
    }
    tracing::info!(node = %config.node_id, slots = config.slots, "attached to the coordinator");
    *backoff = config.backoff_initial;

    let (done_tx, mut done_rx) = mpsc::channel::<Done>(config.slots + 1);
    let mut pending: VecDeque<NodeTask> = VecDeque::new();
    let mut running = 0usize;
    let mut seq = 0u64;
    let mut tick = tokio::time::interval(heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ended = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ended::Shutdown,
            _ = tick.tick() => {
                seq += 1;
                let load = NodeLoad {
                    cached_bytes: worker.cached_bytes() as u64,
                    jobs: u32::try_from(worker.jobs()).unwrap_or(u32::MAX),
                };
                // Heartbeats never wait: a full queue means the link is stuck anyway.
                let _ = out.try_send(convert::heartbeat(seq, running, load));
            }
            Some(done) = done_rx.recv() => {
                running -= 1;
                let msg = finish(worker, done);
                if out.send(msg).await.is_err() {
                    break Ended::Lost("outbound closed".into());
                }
            }
            m = inbound.message() => match m {
                Ok(Some(v1::CoordinatorMessage { msg: Some(msg) })) => match msg {
                    Down::Welcome(_) => {}
                    Down::Job(def) => {
                        if let Err(e) = take_definition(worker, &def) {
                            tracing::warn!(job = %def.job_id, error = %e, "bad job definition");
                        }
                    }
                    Down::Task(task) => match convert::task_from_proto(&task) {
                        Ok(task) => pending.push_back(task),
                        Err(e) => {
                            let _ = out.send(convert::task_error(task.task_id, TaskErrorKind::Fatal, &e.to_string())).await;
                        }
                    },
                    Down::Forget(f) => {
                        worker.forget(&f.job_id);
                        let (gone, keep): (Vec<_>, Vec<_>) = pending.drain(..).partition(|t| *t.job_id == *f.job_id);
                        pending = keep.into();
                        for t in gone {
                            let _ = out.send(convert::task_error(t.task_id, TaskErrorKind::Cancelled, "job forgotten")).await;
                        }
                    }
                    Down::Shutdown(s) => {
                        tracing::info!(node = %config.node_id, reason = %s.reason, reconnect = s.reconnect, "coordinator says goodbye");
                        break if s.reconnect { Ended::Lost(s.reason) } else { Ended::Released };
                    }
                },
                Ok(Some(_)) => {}
                Ok(None) => break Ended::Lost("stream closed".into()),
                Err(s) => break Ended::Lost(format!("stream error: {}", s.message())),
            },
        }
        // Start queued tasks while slots are free.
        while running < config.slots {
            let Some(task) = pending.pop_front() else { break };
            let task_id = task.task_id;
            match worker.prepare(task) {
                Ok(work) => {
                    running += 1;
                    let tx = done_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let _ = tx.blocking_send(work());
                    });
                }
                Err(f) => {
                    let _ = out.send(convert::task_error(task_id, f.kind, &f.message)).await;
                }
            }
        }
    };
    *down_since = Instant::now();
    Ok(ended)
}

/// Takes a job definition from the coordinator: defines (and so validates) its spec on the
/// worker, or refuses the job for the reason the spec cannot be read. Returns the reason of
/// a refusal.
pub fn take_definition(worker: &mut Worker, def: &v1::JobDefinition) -> Result<(), String> {
    let (job_id, spec) = convert::definition_from_proto(def);
    match spec {
        Ok(spec) => worker.define(&job_id, spec),
        Err(e) => Err(worker.refuse(&job_id, e.to_string())),
    }
}

fn finish(worker: &mut Worker, done: Done) -> v1::NodeMessage {
    if let Some((key, batch)) = done.batch {
        worker.keep(key, batch);
    }
    match done.result {
        Ok(output) => convert::task_result(done.task_id, &output, done.micros),
        Err(f) => {
            if f.kind == TaskErrorKind::Fatal {
                tracing::warn!(task = done.task_id, job = %done.job_id, error = %f.message, "task failed");
            }
            convert::task_error(done.task_id, f.kind, &f.message)
        }
    }
}
