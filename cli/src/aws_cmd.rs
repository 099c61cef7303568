//! The AWS side of the command line: `trigger-watch` (the S3 trigger outside Lambda, by
//! polling) and `batch` (the entrypoint of an AWS Batch multi-node parallel job).

use crate::cluster_cmd::{failure, runtime, shutdown_on_signal};
use crate::embedded::{ClusterHost, EmbeddedOptions};
use crate::security::{ClientTlsArgs, TokenArgs};
use crate::{Failure, cores};
use anyhow::{Context, anyhow};
use clap::Args;
use pathgrid_coordinator::{CheckpointStore, Client, CoordinatorConfig, JobPhase, Owner};
use pathgrid_store::{AnyStore, LocalStore, S3Options, S3Store, Store};
use pathgrid_trigger::{InputFile, Names, ObjectRef, TriggerConfig, names_for, parse_input, write_error_report};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct TriggerWatchArgs {
    /// Bucket to watch: new objects under `inputs/` are priced into `results/`.
    #[arg(long)]
    pub bucket: String,
    /// S3 endpoint of a local server (path-style addressing); default: AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Send jobs to this coordinator instead of pricing them in this process.
    #[arg(long)]
    pub coordinator: Option<String>,
    /// The coordinator's shared token.
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
    /// Seconds between polls.
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// Handle what is there now, then exit.
    #[arg(long)]
    pub once: bool,
}

/// Inputs already handled: they have a result or an error report.
fn handled(results: &HashSet<String>, names: &Names) -> bool {
    [&names.json_result_key, &names.csv_result_key, &names.error_key].iter().any(|k| results.contains(*k))
}

pub fn trigger_watch(args: TriggerWatchArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let shutdown = shutdown_on_signal();
        let options = S3Options::endpoint(args.endpoint_url.clone());
        let store = S3Store::connect(args.bucket.clone(), "", &options).await;
        let mut config = TriggerConfig::from_env().map_err(|e| Failure::Invalid(e.to_string()))?;
        // Without Batch, whatever is not sent to a coordinator is priced here.
        config.inline_max_path_steps = u64::MAX;
        let mut client = match &args.coordinator {
            Some(url) => {
                let (token, tls) = (args.token.resolve()?, args.tls.resolve()?);
                Some(Client::connect_with(url, token.as_deref(), tls.as_ref()).await.map_err(failure)?)
            }
            None => None,
        };
        let mut tried: HashSet<String> = HashSet::new();
        tracing::info!(bucket = %args.bucket, coordinator = ?args.coordinator, "watching inputs/");
        loop {
            match poll(&store, &args.bucket, &config, client.as_mut(), &mut tried).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(handled = n, "poll done"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "poll failed; will retry"),
            }
            if args.once {
                return Ok(());
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_secs_f64(args.interval.max(0.1))) => {}
            }
        }
    })
}

async fn poll(
    store: &S3Store,
    bucket: &str,
    config: &TriggerConfig,
    mut client: Option<&mut Client>,
    tried: &mut HashSet<String>,
) -> anyhow::Result<usize> {
    let results: HashSet<String> = store.list(pathgrid_trigger::RESULT_PREFIX).await?.into_iter().collect();
    let mut count = 0;
    for key in store.list(pathgrid_trigger::INPUT_PREFIX).await? {
        let Some(names) = names_for(&key) else { continue };
        if handled(&results, &names) || !tried.insert(key.clone()) {
            continue;
        }
        count += 1;
        if let Err(e) = handle_key(store, bucket, config, client.as_deref_mut(), &key, &names).await {
            // Storage or coordinator trouble, not bad input: try this key again next poll.
            tracing::warn!(%key, error = %format!("{e:#}"), "will retry");
            tried.remove(&key);
        }
    }
    Ok(count)
}

/// Prices one input: here (the trigger's own handler) or on the coordinator.
async fn handle_key(
    store: &S3Store,
    bucket: &str,
    config: &TriggerConfig,
    client: Option<&mut Client>,
    key: &str,
    names: &Names,
) -> anyhow::Result<()> {
    let object = ObjectRef { bucket: bucket.to_string(), key: key.to_string(), etag: String::new(), size: None };
    let Some(client) = client else {
        let outcome = pathgrid_trigger::handle_object(store, &object, None, config, None).await?;
        tracing::info!(?outcome, "handled");
        return Ok(());
    };
    let bytes = store.get(key, config.max_input_bytes).await;
    let parsed = match bytes {
        Ok(b) => String::from_utf8(b).ok().and_then(|t| parse_input(names, &t).ok()),
        Err(_) => None,
    };
    let Some(file) = parsed else {
        // Bad (or oversized) input: the trigger's own handler writes the detailed report.
        let outcome = pathgrid_trigger::handle_object(store, &object, None, config, None).await?;
        tracing::info!(?outcome, "rejected");
        return Ok(());
    };
    let job_id = match client.submit(&file.spec).await {
        Ok(id) => id,
        // Refused for good (e.g. too large to send): report it instead of retrying forever.
        Err(e) if e.is_invalid_input() => {
            write_error_report(store, &names.error_key, &format!("s3://{bucket}/{key}"), &e.to_string()).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(%key, %job_id, "submitted to the coordinator");
    match client.wait(&job_id, |_| {}).await {
        Ok(result) => {
            store.put(&file.result_key, file.render(&result)?).await?;
            tracing::info!(%key, result = %file.result_key, "priced");
        }
        Err(pathgrid_coordinator::Error::JobFailed { message, .. }) => {
            write_error_report(store, &names.error_key, &format!("s3://{bucket}/{key}"), &message).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Port the main node's coordinator listens on (all interfaces); children dial it.
    #[arg(long, env = "PATHGRID_PORT", default_value_t = 50051)]
    pub port: u16,
    /// Interface the main node listens on.
    #[arg(long, env = "PATHGRID_LISTEN_HOST", default_value = "0.0.0.0")]
    pub listen_host: std::net::IpAddr,
    /// How long the main node waits for the other nodes, and children for the main node.
    #[arg(long, env = "PATHGRID_WAIT_FOR_NODES_SECS", default_value_t = 300)]
    pub wait_secs: u64,
    /// Where the main node checkpoints the job (s3://bucket/prefix or a directory), or
    /// `none`. Default: `checkpoints/<Batch job id>/` beside the output, so that a retried
    /// attempt (AWS_BATCH_JOB_ATTEMPT) resumes where the previous one stopped.
    #[arg(long, env = "PATHGRID_CHECKPOINTS")]
    pub checkpoints: Option<String>,
}

fn env(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|_| {
        Failure::Invalid(format!("{name} is not set (pathgrid batch runs inside an AWS Batch multi-node job)"))
    })
}

fn env_number(name: &str) -> Result<u32, Failure> {
    let v = env(name)?;
    v.trim().parse().map_err(|_| Failure::Invalid(format!("{name}={v:?} is not a number")))
}

/// Splits an input URL into its store root and key: `s3://b/inputs/x.json` → (`s3://b`,
/// `inputs/x.json`); a path `/d/inputs/x.json` → (`/d`, `inputs/x.json`).
fn split_input(url: &str) -> Result<(String, String), Failure> {
    let bad = || Failure::Invalid(format!("PATHGRID_JOB_INPUT={url:?} is not s3://bucket/key or a file path"));
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
        if key.is_empty() {
            return Err(bad());
        }
        return Ok((format!("s3://{bucket}"), key.to_string()));
    }
    let path = std::path::Path::new(url);
    let file = path.file_name().ok_or_else(bad)?.to_string_lossy().into_owned();
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    match dir.file_name() {
        Some(d) if d == "inputs" => {
            let root = dir.parent().unwrap_or(std::path::Path::new("."));
            Ok((root.to_string_lossy().into_owned(), format!("inputs/{file}")))
        }
        _ => Ok((dir.to_string_lossy().into_owned(), file)),
    }
}

pub fn batch(args: BatchArgs) -> Result<(), Failure> {
    let index = env_number("AWS_BATCH_JOB_NODE_INDEX")?;
    let main = env_number("AWS_BATCH_JOB_MAIN_NODE_INDEX")?;
    let nodes = env_number("AWS_BATCH_JOB_NUM_NODES").unwrap_or(1).max(1) as usize;
    let token = batch_token(nodes)?;
    let wait = Duration::from_secs(args.wait_secs);
    if index != main {
        let main_ip = env("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS")?;
        return runtime()?.block_on(async {
            let shutdown = shutdown_on_signal();
            let mut config = pathgrid_node::NodeConfig::new(format!("http://{main_ip}:{}", args.port));
            config.slots = cores();
            config.token = token;
            config.node_id = format!("batch-node-{index}");
            config.give_up_after = Some(wait);
            tracing::info!(index, coordinator = %config.coordinator_url, "child node starting");
            pathgrid_node::run(config, shutdown).await.map_err(|e| Failure::Other(e.into()))
        });
    }
    let input = env("PATHGRID_JOB_INPUT")?;
    runtime()?.block_on(main_node(args, input, nodes, token, wait))
}

/// The token the nodes of a Batch job share. With several nodes it must come from outside:
/// the job definition maps a Secrets Manager secret to `PATHGRID_TOKEN` (deploy/template.yaml),
/// or `PATHGRID_TOKEN_FILE` names a file holding it. Nothing readable through the Batch API
/// (the job id, say) may serve, since anyone allowed to describe jobs could read it. A job of
/// one node has no one to share with and draws a fresh token.
fn batch_token(nodes: usize) -> Result<Option<String>, Failure> {
    let from_env = TokenArgs {
        token: std::env::var("PATHGRID_TOKEN").ok().filter(|t| !t.is_empty()),
        token_file: std::env::var_os("PATHGRID_TOKEN_FILE").map(Into::into),
    };
    match from_env.resolve()? {
        Some(t) => Ok(Some(t)),
        None if nodes == 1 => pathgrid_proto::auth::random_token().map(Some).map_err(|e| Failure::Other(anyhow!(e))),
        None => Err(Failure::Invalid(format!(
            "PATHGRID_TOKEN is not set: the {nodes} nodes of this job need a shared token, which the job \
             definition passes from its Secrets Manager secret (see deploy/template.yaml)"
        ))),
    }
}

async fn open(root: &str) -> Result<AnyStore, Failure> {
    pathgrid_store::open(root, &S3Options::default()).await.map_err(|e| Failure::Invalid(e.to_string()))
}

/// The Batch job's checkpoint store, and the lease owner of this attempt: every attempt of
/// one Batch job shares the name `batch:<job id>`, and a later attempt supersedes an
/// earlier one (Batch starts it only after the earlier one ended).
async fn checkpoint_store(setting: Option<&str>, output_root: &str) -> Result<Option<CheckpointStore>, Failure> {
    let job = std::env::var("AWS_BATCH_JOB_ID").unwrap_or_default();
    // A multi-node job's nodes see `<job id>#<node index>`.
    let job: String =
        job.split('#').next().unwrap_or_default().chars().filter(|c| pathgrid_store::is_safe_name_char(*c)).collect();
    let url = match setting {
        Some(s) if s.eq_ignore_ascii_case("none") => return Ok(None),
        Some(s) => s.to_string(),
        None if job.is_empty() => {
            tracing::warn!("AWS_BATCH_JOB_ID is not set: no checkpoints (a retry starts over)");
            return Ok(None);
        }
        None => format!("{}/checkpoints/{job}", output_root.trim_end_matches('/')),
    };
    let attempt = match std::env::var("AWS_BATCH_JOB_ATTEMPT") {
        Ok(a) => {
            a.trim().parse().map_err(|_| Failure::Invalid(format!("AWS_BATCH_JOB_ATTEMPT={a:?} is not a number")))?
        }
        Err(_) => 1,
    };
    let store = match pathgrid_store::open(&url, &S3Options::default()).await {
        Ok(AnyStore::Local(dir)) => AnyStore::Local(LocalStore::private(dir.root())),
        Ok(s3) => s3,
        Err(e) => return Err(Failure::Invalid(format!("PATHGRID_CHECKPOINTS: {e}"))),
    };
    let name = if job.is_empty() { url.clone() } else { format!("batch:{job}") };
    tracing::info!(checkpoints = %url, attempt, "checkpointing the job");
    Ok(Some(CheckpointStore::new(store, Owner::new(name, attempt))))
}

async fn main_node(
    args: BatchArgs,
    input: String,
    nodes: usize,
    token: Option<String>,
    wait: Duration,
) -> Result<(), Failure> {
    let (root, key) = split_input(&input)?;
    let store = open(&root).await?;
    let names = names_for(&key)
        .or_else(|| names_for(&format!("{}{}", pathgrid_trigger::INPUT_PREFIX, key.rsplit('/').next().unwrap_or(&key))))
        .ok_or_else(|| Failure::Invalid(format!("cannot name results for {input}")))?;
    let config = TriggerConfig::from_env().map_err(|e| Failure::Invalid(e.to_string()))?;
    let bytes = store.get(&key, config.max_input_bytes).await.with_context(|| format!("reading {input}"))?;
    let text = String::from_utf8(bytes).map_err(|_| Failure::Invalid(format!("{input} is not UTF-8 text")))?;
    let file: InputFile = match parse_input(&names, &text) {
        Ok(f) => f,
        Err(e) => {
            write_error_report(&store, &names.error_key, &input, &e.to_string())
                .await
                .context("writing the error report")?;
            return Err(Failure::Invalid(format!("{input}: {e}")));
        }
    };

    let output = std::env::var("PATHGRID_JOB_OUTPUT").ok();
    let output_root = match &output {
        Some(o) => split_input(o)?.0,
        None => root.clone(),
    };
    let checkpoints = checkpoint_store(args.checkpoints.as_deref(), &output_root).await?;

    let listener = tokio::net::TcpListener::bind((args.listen_host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.listen_host, args.port))?;
    let config = CoordinatorConfig {
        token,
        release_nodes_on_shutdown: true,
        store: checkpoints.map(Arc::new),
        ..CoordinatorConfig::default()
    };
    let options = EmbeddedOptions { nodes: 1, slots_per_node: cores(), memory_budget: 4 << 30 };
    let host = ClusterHost::start(listener, config, &options).await.map_err(failure)?;

    // Wait for the children (and our own node), then go on with those present.
    let deadline = Instant::now() + wait;
    loop {
        let present = host.cluster().list_nodes().await.len();
        if present >= nodes {
            tracing::info!(present, "all nodes attached");
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!(present, expected = nodes, "not every node attached in time; going on with those present");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    // A previous attempt's job, resumed from its checkpoint (unfinished, or finished but
    // its result not written), is followed rather than started again.
    let resumed = host
        .cluster()
        .list_jobs()
        .await
        .map_err(failure)?
        .into_iter()
        .find(|p| p.name == file.spec.name && (!p.is_terminal() || p.phase == JobPhase::Succeeded));
    let outcome = match resumed {
        Some(p) => {
            tracing::info!(job = %p.job_id, batches_done = p.batches_done, "resuming the previous attempt's job");
            host.wait_job(&p.job_id, |_| {}).await
        }
        None => host.run_job(file.spec.clone(), |_| {}).await,
    };
    let stopped = host.stop().await;
    let result = match outcome {
        Ok(r) => r,
        Err(e) => {
            write_error_report(&store, &names.error_key, &input, &e.to_string())
                .await
                .context("writing the error report")?;
            return Err(failure(e));
        }
    };
    let body = file.render(&result).map_err(|e| anyhow!(e))?;
    match output {
        Some(output) => {
            let (out_root, out_key) = split_input(&output)?;
            open(&out_root).await?.put(&out_key, body).await.with_context(|| format!("writing {output}"))?;
            tracing::info!(%output, "result written");
        }
        None => {
            store.put(&file.result_key, body).await.with_context(|| format!("writing {}", file.result_key))?;
            tracing::info!(key = %file.result_key, "result written");
        }
    }
    tracing::info!(elapsed_s = started.elapsed().as_secs_f64(), "job done");
    stopped.map_err(failure)
}
