//! Cluster commands: `coordinator`, `node`, `submit`, `watch`, `jobs`, `nodes`, `cancel`.

use crate::input::{self, Input};
use crate::security::{ClientTlsArgs, ServerTlsArgs, TokenArgs};
use crate::{Failure, output, progress};
use anyhow::Context;
use clap::Args;
use pathgrid_coordinator::{
    CheckpointStore, Client, CoordinatorConfig, Error as CoordinatorError, Owner, Progress, Reconnect,
};
use pathgrid_pricing::workshop_csv::{self, CsvSettings};
use pathgrid_protocol::{JobResult, MAX_SLOTS};
use pathgrid_store::{AnyStore, LocalStore, S3Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    /// Address to listen on for clients and nodes.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Where job checkpoints go, a directory or s3://bucket/prefix: a restarted coordinator
    /// resumes unfinished jobs from it. Coordinators sharing one store never run the same
    /// job twice (each job has a lease).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub store: Option<String>,
    /// S3 endpoint of a local server (path-style addressing) for an s3:// store; default: AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// The shared token that clients and nodes must present.
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: ServerTlsArgs,
    /// A node silent for this many seconds is lost and its batches requeued; nodes are asked
    /// for a heartbeat every 2 s, or a quarter of this when that is shorter.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub heartbeat_timeout: f64,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Coordinator URL: http://host:port, or https://host:port with --tls-ca.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub coordinator: String,
    /// Concurrent tasks, 1 to 4096 (default: one per core).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=u64::from(MAX_SLOTS)))]
    pub slots: Option<usize>,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
    /// Node name shown by `pathgrid nodes` (default: host name and process id).
    #[arg(long)]
    pub id: Option<String>,
    /// Memory for training batches kept between rounds, in MiB; batches beyond it are
    /// regenerated when needed.
    #[arg(long, default_value_t = 4096)]
    pub memory_mib: usize,
}

#[derive(Debug, Args)]
pub struct Connection {
    /// Coordinator URL: http://host:port, or https://host:port with --tls-ca.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub coordinator: String,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Job spec (JSON) or workshop CSV.
    pub spec: PathBuf,
    #[command(flatten)]
    pub conn: Connection,
    /// Follow the job until it ends; progress on stderr, result on stdout.
    #[arg(long)]
    pub watch: bool,
    /// Print the result as one JSON document (with --watch).
    #[arg(long)]
    pub json: bool,
    /// Write the result here (JSON, or the priced CSV for CSV input); implies --watch.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Pricing paths per instrument for CSV input (default 20000).
    #[arg(long)]
    pub paths: Option<u64>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub follow: FollowArgs,
}

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// While following a job, keep reconnecting for this long when the coordinator is
    /// unreachable (a coordinator restarted on its --store resumes the job); 0 fails at once.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub reconnect_secs: u64,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Job id printed by `pathgrid submit`.
    pub job_id: String,
    #[command(flatten)]
    pub conn: Connection,
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub follow: FollowArgs,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    pub job_id: String,
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Failure::Other(e.into()))
}

/// Cancelled on Ctrl-C or SIGTERM: servers stop accepting, hand back work and exit 0.
pub(crate) fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
        t.cancel();
    });
    token
}

/// Maps coordinator errors to exit codes: a refused spec is invalid input (2).
pub(crate) fn failure(e: CoordinatorError) -> Failure {
    match e {
        CoordinatorError::Status(s) if s.code() == tonic::Code::InvalidArgument => {
            Failure::Invalid(s.message().to_string())
        }
        e if e.is_invalid_input() => Failure::Invalid(e.to_string()),
        other => Failure::Other(other.into()),
    }
}

pub fn coordinator(args: CoordinatorArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let shutdown = shutdown_on_signal();
        let mut config = CoordinatorConfig {
            token: args.token.resolve()?,
            tls: args.tls.resolve()?,
            ..CoordinatorConfig::default()
        };
        let timeout =
            Duration::try_from_secs_f64(args.heartbeat_timeout).ok().filter(|t| !t.is_zero()).ok_or_else(|| {
                Failure::Invalid(format!("--heartbeat-timeout {}: expected seconds > 0", args.heartbeat_timeout))
            })?;
        config.heartbeat_timeout = timeout;
        config.heartbeat_interval = config.heartbeat_interval.min(timeout / 4);
        if let Some(url) = &args.store {
            let options = S3Options::endpoint(args.endpoint_url.clone());
            let store = match pathgrid_store::open(url, &options).await {
                Ok(AnyStore::Local(dir)) => AnyStore::Local(LocalStore::private(dir.root())),
                Ok(s3) => s3,
                Err(e) => return Err(Failure::Invalid(format!("--store: {e}"))),
            };
            config.store = Some(Arc::new(CheckpointStore::new(store, owner(args.listen))));
        }
        // Listening first: a second coordinator on this address fails here, before it could
        // supersede the first one's leases.
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(addr = %args.listen, store = ?args.store, "coordinator listening");
        pathgrid_coordinator::run(listener, config, shutdown).await.map_err(failure)
    })
}

/// The lease owner of `pathgrid coordinator`: host and listen address, started now. A
/// coordinator restarted on the same host and address is a newer incarnation, so it takes
/// its predecessor's jobs over at once; any other waits for their leases to expire.
fn owner(listen: SocketAddr) -> Owner {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let started =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    Owner::new(format!("{host}/{listen}"), started)
}

pub fn node(args: NodeArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let shutdown = shutdown_on_signal();
        let mut config = pathgrid_node::NodeConfig::new(args.coordinator);
        config.slots = args.slots.unwrap_or_else(crate::cores).min(MAX_SLOTS as usize);
        config.token = args.token.resolve()?;
        config.tls = args.tls.resolve()?;
        if let Some(id) = args.id {
            config.node_id = id;
        }
        config.memory_budget = args.memory_mib.saturating_mul(1 << 20);
        pathgrid_node::run(config, shutdown).await.map_err(|e| match e {
            pathgrid_node::Error::Config(_) => Failure::Invalid(e.to_string()),
            e => Failure::Other(e.into()),
        })
    })
}

async fn connect(conn: &Connection) -> Result<Client, Failure> {
    let token = conn.token.resolve()?;
    let tls = conn.tls.resolve()?;
    Client::connect_with(&conn.coordinator, token.as_deref(), tls.as_ref()).await.map_err(failure)
}

pub fn submit(args: SubmitArgs) -> Result<(), Failure> {
    let mut csv = CsvSettings::default();
    if let Some(p) = args.paths {
        csv.paths = p;
    }
    let input = input::load(&args.spec, &csv)?;
    input::validate(&args.spec, &input)?;
    if let Some(path) = &args.output {
        output::check_writable(path)?;
    }
    runtime()?.block_on(async {
        let mut client = connect(&args.conn).await?;
        let job_id = client.submit(input.spec()).await.map_err(failure)?;
        if !(args.watch || args.output.is_some()) {
            println!("{job_id}");
            return Ok(());
        }
        eprintln!("submitted {job_id}");
        let result = follow(client, &job_id, args.quiet, &args.follow).await?;
        if let Some(path) = &args.output {
            let text = match &input {
                Input::Csv(p) => workshop_csv::write_results(p, &result.results).context("writing CSV")?,
                Input::Spec(_) => output::json(&result)?,
            };
            output::write_or_print(path, &text)?;
        }
        print_result(&result, args.json)
    })
}

pub fn watch(args: WatchArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let client = connect(&args.conn).await?;
        let result = follow(client, &args.job_id, args.quiet, &args.follow).await?;
        print_result(&result, args.json)
    })
}

async fn follow(client: Client, job_id: &str, quiet: bool, args: &FollowArgs) -> Result<JobResult, Failure> {
    let reconnect = Reconnect { deadline: Duration::from_secs(args.reconnect_secs), ..Reconnect::default() };
    let mut client = client.with_reconnect(reconnect);
    let bar = progress::bar(quiet, 0, job_id);
    let result = client.wait(job_id, |p: &Progress| progress::update(&bar, p)).await.map_err(failure);
    bar.finish_and_clear();
    result
}

fn print_result(result: &JobResult, json: bool) -> Result<(), Failure> {
    if json {
        println!("{}", output::json(result)?);
    } else {
        print!("{}", output::table(result));
    }
    Ok(())
}

pub fn cancel(args: CancelArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let mut client = connect(&args.conn).await?;
        if client.cancel(&args.job_id).await.map_err(failure)? {
            println!("cancelled {}", args.job_id);
        } else {
            println!("{} had already ended", args.job_id);
        }
        Ok(())
    })
}

pub fn jobs(args: ListArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let mut client = connect(&args.conn).await?;
        let jobs = client.list_jobs().await.map_err(failure)?;
        if args.json {
            let rows: Vec<_> = jobs.iter().map(progress::to_json).collect();
            println!("{}", serde_json::Value::Array(rows));
            return Ok(());
        }
        println!("{:<40} {:<24} {:<10} {:>13} {:>15} {:>10}", "job", "name", "phase", "options", "batches", "elapsed");
        for p in &jobs {
            println!(
                "{:<40} {:<24} {:<10} {:>13} {:>15} {:>9.1}s",
                p.job_id,
                p.name,
                p.phase.name(),
                format!("{}/{}", p.instruments_done, p.instruments_total),
                format!("{}/{}", p.batches_done, p.batches_total),
                p.elapsed.as_secs_f64()
            );
        }
        Ok(())
    })
}

pub fn nodes(args: ListArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let mut client = connect(&args.conn).await?;
        let nodes = client.list_nodes().await.map_err(failure)?;
        if args.json {
            let rows: Vec<_> = nodes
                .iter()
                .map(|n| {
                    serde_json::json!({
                        "name": n.name, "slots": n.slots, "running": n.running, "version": n.version,
                        "tasks_done": n.tasks_done, "since_heartbeat_s": n.since_heartbeat.as_secs_f64(),
                        "jobs": n.load.jobs, "cached_bytes": n.load.cached_bytes,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
            return Ok(());
        }
        println!(
            "{:<32} {:>6} {:>8} {:>12} {:>5} {:>12} {:>10}  version",
            "node", "slots", "running", "tasks done", "jobs", "cached MiB", "heartbeat"
        );
        for n in &nodes {
            println!(
                "{:<32} {:>6} {:>8} {:>12} {:>5} {:>12.1} {:>9.1}s  {}",
                n.name,
                n.slots,
                n.running,
                n.tasks_done,
                n.load.jobs,
                n.load.cached_bytes as f64 / (1 << 20) as f64,
                n.since_heartbeat.as_secs_f64(),
                n.version
            );
        }
        Ok(())
    })
}
