//! The S3 trigger: for each object created under `inputs/`, price it inline (small jobs) and
//! write the result under `results/`, or submit an AWS Batch multi-node parallel job (large
//! jobs). Bad input writes `results/<name>.error.json` and counts as handled, so an event is
//! never retried forever. See README.md for the configuration.

mod config;
mod marker;
mod naming;

pub use config::{Fault, TriggerConfig};
pub use naming::{Names, batch_job_name, decode_key, names_for};

use aws_lambda_events::s3::S3Event;
use aws_sdk_batch::types::{ContainerOverrides, KeyValuePair, NodeOverrides, NodePropertyOverride};
use marker::{Found, Marker, MarkerState};
use pathgrid_pricing::driver;
use pathgrid_pricing::workshop_csv::{self, CsvSettings};
use pathgrid_pricing::{Input, InstrumentResult, Job, JobSpec, Phase, Problem, SpecErrors};
use pathgrid_protocol::{JobPhase, JobResult, JobStats};
use pathgrid_store::{S3Options, S3Store, Store};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Where inputs are read from; only keys under it are acted on.
pub const INPUT_PREFIX: &str = "inputs/";
/// Where results and error reports are written.
pub const RESULT_PREFIX: &str = "results/";
/// Where the once-only markers of submitted Batch jobs are written.
pub const MARKER_PREFIX: &str = "markers/";
/// A marker is a few hundred bytes; anything far larger is not one of ours.
const MAX_MARKER_BYTES: u64 = 64 * 1024;

/// Failures that should make the invocation fail (and be retried): storage or Batch
/// unreachable, misconfiguration. Bad input is never an `Error`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] pathgrid_store::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("Batch SubmitJob {job_name}: {message}")]
    Batch { job_name: String, message: String },
    #[error("serializing {what}: {message}")]
    Serialize { what: &'static str, message: String },
    /// Another delivery of the same event wrote the `pending` marker moments ago and may still
    /// be submitting. Failing (rather than succeeding) has the event retried later, when the
    /// marker says `submitted` or has gone stale.
    #[error("job {job_name}: another delivery is submitting it (pending marker {age_s} s old); retry later")]
    InFlight { job_name: String, age_s: u64 },
    /// A fault injected by a test ([`Fault`]), standing for a Lambda that dies.
    #[error("injected fault: {0:?}")]
    Injected(Fault),
}

/// What the handler did with one event record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Not an input (wrong prefix, folder marker, not a creation event, undecodable key).
    Ignored { key: String, reason: String },
    /// Priced inline; the result was written to `result_key`.
    Priced { key: String, result_key: String, path_steps: u64 },
    /// A Batch job was submitted.
    Submitted { key: String, job_name: String, job_id: String, num_nodes: u32, path_steps: u64 },
    /// The marker said `submitted` (or was stale and Batch already had the job): an earlier
    /// delivery of the same event submitted it.
    AlreadySubmitted { key: String, job_name: String },
    /// Bad input; the reason was written to `error_key`.
    Rejected { key: String, error_key: String, reason: String },
}

/// Clients and configuration shared by all invocations.
#[derive(Debug, Clone)]
pub struct TriggerContext {
    pub s3: aws_sdk_s3::Client,
    pub batch: Option<aws_sdk_batch::Client>,
    pub config: TriggerConfig,
}

impl TriggerContext {
    /// Clients from the standard AWS configuration chain and configuration from the environment.
    pub async fn from_env() -> Result<Self, Error> {
        let config = TriggerConfig::from_env()?;
        let sdk = S3Options::default().sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk).force_path_style(sdk.endpoint_url().is_some()).build(),
        );
        let batch = aws_sdk_batch::Client::new(&sdk);
        Ok(TriggerContext { s3, batch: Some(batch), config })
    }
}

/// Handles every record of an S3 event. `Err` only for infrastructure failures.
pub async fn handle_s3_event(event: S3Event, ctx: &TriggerContext) -> Result<Vec<Outcome>, Error> {
    handle_s3_event_within(event, ctx, None).await
}

/// Like [`handle_s3_event`], with the time left in this invocation: a job is priced inline only
/// when its estimated time fits well inside it.
pub async fn handle_s3_event_within(
    event: S3Event,
    ctx: &TriggerContext,
    remaining: Option<Duration>,
) -> Result<Vec<Outcome>, Error> {
    let started = Instant::now();
    let mut outcomes = Vec::with_capacity(event.records.len());
    for record in event.records {
        let raw_key = record.s3.object.key.clone().unwrap_or_default();
        if let Some(name) = record.event_name.as_deref()
            && !name.starts_with("ObjectCreated")
        {
            outcomes.push(Outcome::Ignored { key: raw_key, reason: format!("event {name} is not a creation") });
            continue;
        }
        let Some(bucket) = record.s3.bucket.name.clone().filter(|b| !b.is_empty()) else {
            outcomes.push(Outcome::Ignored { key: raw_key, reason: "record names no bucket".into() });
            continue;
        };
        let key = match decode_key(&raw_key) {
            Ok(k) => k,
            Err(reason) => {
                outcomes.push(Outcome::Ignored { key: raw_key, reason });
                continue;
            }
        };
        let input = ObjectRef {
            bucket: bucket.clone(),
            key,
            etag: record.s3.object.e_tag.clone().unwrap_or_default(),
            size: record.s3.object.size.and_then(|s| u64::try_from(s).ok()),
        };
        let store = S3Store::new(ctx.s3.clone(), bucket, "");
        let left = remaining.map(|r| r.saturating_sub(started.elapsed()));
        outcomes.push(handle_object(&store, &input, ctx.batch.as_ref(), &ctx.config, left).await?);
    }
    Ok(outcomes)
}

/// A parsed input file: the job, and the portfolio when it came as a workshop CSV.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The spec as written (what a coordinator is sent).
    pub spec: JobSpec,
    /// The same, validated.
    pub job: Job,
    pub portfolio: Option<workshop_csv::CsvPortfolio>,
    /// Where the result goes: `results/<name>.json`, or `.csv` for a CSV input.
    pub result_key: String,
}

impl InputFile {
    /// The result object's body: the JSON result, or the input CSV with prices appended.
    pub fn render(&self, result: &JobResult) -> Result<Vec<u8>, Error> {
        match &self.portfolio {
            Some(p) => workshop_csv::write_results(p, &result.results)
                .map(String::into_bytes)
                .map_err(|e| Error::Serialize { what: "CSV result", message: e.to_string() }),
            None => to_json(result, "result"),
        }
    }
}

/// Parses an input's text as a workshop CSV (by extension or header) or a JSON spec, and
/// validates it. Shared by the Lambda, `pathgrid trigger-watch` and `pathgrid batch`.
pub fn parse_input(names: &naming::Names, text: &str) -> Result<InputFile, SpecErrors> {
    let input = pathgrid_pricing::parse_input(text, names.is_csv, &names.job_name, &CsvSettings::default())?;
    let job = input.spec().validate()?;
    Ok(match input {
        Input::Csv(portfolio) => InputFile {
            spec: portfolio.spec.clone(),
            job,
            portfolio: Some(portfolio),
            result_key: names.csv_result_key.clone(),
        },
        Input::Spec(spec) => InputFile { spec, job, portfolio: None, result_key: names.json_result_key.clone() },
    })
}

/// Writes `results/<name>.error.json` for an input that could not be priced.
pub async fn write_error_report<S: Store>(store: &S, error_key: &str, input: &str, error: &str) -> Result<(), Error> {
    let report = ErrorReport { input: input.to_string(), error: error.to_string(), problems: vec![] };
    store.put(error_key, to_json(&report, "error report")?).await?;
    Ok(())
}

/// Time left in an invocation whose `Lambda-Runtime-Deadline-Ms` header is `deadline_ms`.
/// Lambda sends epoch milliseconds; some local Runtime API emulators send the timeout itself
/// (e.g. 600000), which would read as a date in 1970 and leave no time at all. A value too
/// small to be a date after 1973 is therefore taken as milliseconds from now.
pub fn remaining_time(deadline_ms: u64, now: std::time::SystemTime) -> Duration {
    const EPOCH_MS_1973: u64 = 100_000_000_000;
    if deadline_ms < EPOCH_MS_1973 {
        return Duration::from_millis(deadline_ms);
    }
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    deadline.duration_since(now).unwrap_or(Duration::ZERO)
}

/// One created object, as the event describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// Decoded key, relative to the store root.
    pub key: String,
    pub etag: String,
    /// Size from the event, if given (checked before reading).
    pub size: Option<u64>,
}

/// Handles one object of `store` (the bucket root): the part shared by the Lambda and any
/// polling runner. `batch` may be `None` when large jobs cannot be submitted.
pub async fn handle_object<S: Store>(
    store: &S,
    input: &ObjectRef,
    batch: Option<&aws_sdk_batch::Client>,
    config: &TriggerConfig,
    remaining: Option<Duration>,
) -> Result<Outcome, Error> {
    let key = input.key.clone();
    let Some(names) = names_for(&key) else {
        return Ok(Outcome::Ignored { key, reason: format!("not an input file under {INPUT_PREFIX}") });
    };
    let error_key = names.error_key.clone();
    let reject = |reason: String, problems: Vec<ProblemReport>| async move {
        let report =
            ErrorReport { input: format!("s3://{}/{}", input.bucket, input.key), error: reason.clone(), problems };
        let body = to_json(&report, "error report")?;
        store.put(&error_key, body).await?;
        Ok::<_, Error>(Outcome::Rejected { key: input.key.clone(), error_key, reason })
    };

    if let Some(size) = input.size
        && size > config.max_input_bytes
    {
        return reject(too_large(size, config.max_input_bytes), vec![]).await;
    }
    let bytes = match store.get(&key, config.max_input_bytes).await {
        Ok(b) => b,
        Err(pathgrid_store::Error::TooLarge { size, limit, .. }) => {
            return reject(too_large(size, limit), vec![]).await;
        }
        Err(pathgrid_store::Error::NotFound { .. }) => {
            return Ok(Outcome::Ignored { key, reason: "object no longer exists".into() });
        }
        Err(e) => return Err(e.into()),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return reject("input is not UTF-8 text".into(), vec![]).await;
    };

    let input_file = match parse_input(&names, &text) {
        Ok(parsed) => parsed,
        Err(errors) => return reject(errors.to_string(), problems(&errors)).await,
    };
    let (job, result_key) = (input_file.job.clone(), input_file.result_key.clone());

    let work = job.path_steps();
    if config.fits_inline(work, remaining) {
        let priced = price_inline(job.clone()).await;
        let results = match priced {
            Ok(r) => r,
            Err(e) => return reject(format!("pricing failed: {e}"), vec![]).await,
        };
        let result = job_result(&job, &input.key, results);
        let body = match input_file.render(&result) {
            Ok(body) => body,
            Err(e) => return reject(e.to_string(), vec![]).await,
        };
        store.put(&result_key, body).await?;
        return Ok(Outcome::Priced { key, result_key, path_steps: work });
    }

    let (Some(batch), Some(queue), Some(definition)) =
        (batch, config.job_queue.as_deref(), config.job_definition.as_deref())
    else {
        return reject(
            format!(
                "the job has {work} path-steps, more than the inline limit of {}, and no Batch job queue \
                 and definition are configured (PATHGRID_JOB_QUEUE, PATHGRID_JOB_DEFINITION)",
                config.inline_max_path_steps
            ),
            vec![],
        )
        .await;
    };
    let job_name = batch_job_name(&input.bucket, &input.key, &input.etag);
    let num_nodes = config.nodes_for(work);
    let marker_key = format!("{MARKER_PREFIX}{job_name}");
    let marker = Marker {
        input: format!("s3://{}/{}", input.bucket, input.key),
        etag: input.etag.clone(),
        job_name: job_name.clone(),
        num_nodes,
        state: MarkerState::Pending { since: marker::now_secs() },
    };
    if !store.put_if_absent(&marker_key, to_json(&marker, "marker")?).await? {
        let existing = store.get(&marker_key, MAX_MARKER_BYTES).await?;
        match marker::classify(&existing, marker::now_secs(), config.marker_stale_after) {
            Found::Submitted { .. } => return Ok(Outcome::AlreadySubmitted { key, job_name }),
            Found::InFlight { age } => return Err(Error::InFlight { job_name, age_s: age.as_secs() }),
            Found::Stale => {
                if let Some(job_id) = marker::find_batch_job(batch, queue, &job_name).await? {
                    tracing::info!(%job_name, %job_id, "stale pending marker: Batch has the job; marking it submitted");
                    let done = Marker { state: MarkerState::Submitted { job_id }, ..marker };
                    store.put(&marker_key, to_json(&done, "marker")?).await?;
                    return Ok(Outcome::AlreadySubmitted { key, job_name });
                }
                tracing::warn!(%job_name, "stale pending marker and no such Batch job: submitting it now");
                store.put(&marker_key, to_json(&marker, "marker")?).await?;
            }
        }
    }
    if let Some(fault @ Fault::AfterPendingMarker) = config.fault {
        return Err(Error::Injected(fault));
    }
    let env = |name: &str, value: String| KeyValuePair::builder().name(name).value(value).build();
    let overrides = NodeOverrides::builder()
        .num_nodes(i32::try_from(num_nodes).unwrap_or(i32::MAX))
        .node_property_overrides(
            NodePropertyOverride::builder()
                .target_nodes("0:")
                .container_overrides(
                    ContainerOverrides::builder()
                        .environment(env("PATHGRID_JOB_INPUT", marker.input.clone()))
                        .environment(env("PATHGRID_JOB_OUTPUT", format!("s3://{}/{result_key}", input.bucket)))
                        .build(),
                )
                .build(),
        )
        .build();
    let submitted = batch
        .submit_job()
        .job_name(&job_name)
        .job_queue(queue)
        .job_definition(definition)
        .node_overrides(overrides)
        .send()
        .await;
    let job_id = match submitted {
        Ok(out) => out.job_id().unwrap_or_default().to_string(),
        Err(e) => {
            // Let a retry of the event try again.
            let _ = store.delete(&marker_key).await;
            return Err(Error::Batch { job_name, message: aws_sdk_batch::error::DisplayErrorContext(e).to_string() });
        }
    };
    let marker = Marker { state: MarkerState::Submitted { job_id: job_id.clone() }, ..marker };
    store.put(&marker_key, to_json(&marker, "marker")?).await?;
    Ok(Outcome::Submitted { key, job_name, job_id, num_nodes, path_steps: work })
}

#[derive(Debug)]
struct Priced {
    results: Vec<InstrumentResult>,
    batches: u64,
    elapsed_s: f64,
}

fn too_large(size: u64, limit: u64) -> String {
    format!("input object is too large: {size} bytes, the limit is {limit} bytes (PATHGRID_MAX_INPUT_BYTES)")
}

/// Prices every option on every vCPU the function has (rayon's global pool, one thread per
/// core), from a blocking thread: the same numbers as every other runner.
async fn price_inline(job: Job) -> Result<Priced, String> {
    let started = Instant::now();
    let joined = tokio::task::spawn_blocking(move || {
        let problems = Problem::all(&job);
        let batches = problems.iter().map(|p| p.batches(Phase::Training) + p.batches(Phase::Pricing)).sum::<u64>();
        driver::price_job(&job, &driver::OnRayon, &|_| {}).map(|r| (r, batches)).map_err(|e| e.to_string())
    })
    .await;
    match joined {
        Ok(Ok((results, batches))) => Ok(Priced { results, batches, elapsed_s: started.elapsed().as_secs_f64() }),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(format!("pricing task failed: {e}")),
    }
}

fn job_result(job: &Job, key: &str, priced: Priced) -> JobResult {
    let s = &job.settings;
    JobResult {
        job_id: format!("lambda-{}", pathgrid_store::safe_name(key, 100)),
        name: job.name.clone(),
        status: JobPhase::Succeeded,
        results: priced.results,
        stats: JobStats {
            paths: s.paths,
            training_paths: s.training_paths,
            path_steps: job.path_steps(),
            elapsed_s: priced.elapsed_s,
            nodes: 1,
            batches: priced.batches,
            seed: s.seed,
        },
        error: None,
    }
}

#[derive(Debug, Serialize)]
struct ProblemReport {
    path: String,
    message: String,
}

fn problems(errors: &SpecErrors) -> Vec<ProblemReport> {
    errors.issues().iter().map(|i| ProblemReport { path: i.path.clone(), message: i.message.clone() }).collect()
}

#[derive(Debug, Serialize)]
struct ErrorReport {
    input: String,
    error: String,
    problems: Vec<ProblemReport>,
}

fn to_json<T: Serialize>(value: &T, what: &'static str) -> Result<Vec<u8>, Error> {
    let mut out = serde_json::to_vec_pretty(value).map_err(|e| Error::Serialize { what, message: e.to_string() })?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod remaining_time_tests {
    use super::remaining_time;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn absolute_and_relative_deadlines() {
        let now = UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        assert_eq!(remaining_time(1_800_000_030_000, now), Duration::from_secs(30));
        assert_eq!(remaining_time(1_799_999_000_000, now), Duration::ZERO, "a deadline already past");
        assert_eq!(remaining_time(600_000, now), Duration::from_secs(600), "an emulator's relative timeout");
    }
}
