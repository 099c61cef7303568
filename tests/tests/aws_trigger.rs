//! The S3 trigger and the S3 store against a real S3 (and Batch) server: moto (PyPI
//! `moto[server]`, installed by scripts/setup.sh), started on 127.0.0.1 by each test and killed
//! when it ends. Also lints deploy/template.yaml with cfn-lint when that is installed.
//!
//! Longer than most files on purpose: the tests share a dozen S3, Batch and event helpers
//! (the first 140 lines) and the Batch queue set-up; split into files, each would need them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::s3::S3Event;
use aws_sdk_batch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_batch::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::primitives::ByteStream;
use pathgrid_pricing::price_job_sequential;
use pathgrid_protocol::JobResult;
use pathgrid_store::{S3Options, S3Store, Store};
use pathgrid_tests::moto::Moto;
use pathgrid_trigger::{Outcome, TriggerConfig, TriggerContext, handle_s3_event};
use serde_json::{Value, json};
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Batch client for `moto`, recording what it sends into `capture`.
async fn batch_client(moto: &Moto, capture: Option<Capture>) -> aws_sdk_batch::Client {
    let mut conf = aws_sdk_batch::config::Builder::from(&moto.sdk_config().await);
    if let Some(c) = capture {
        conf = conf.interceptor(c);
    }
    aws_sdk_batch::Client::from_conf(conf.build())
}

/// Records the bodies of the requests a Batch client sends (moto ignores `nodeOverrides`, so
/// the request on the wire is where numNodes and the environment are checked).
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<Value>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "capture"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_batch::error::BoxError> {
        let request = context.request();
        if request.uri().contains("submitjob")
            && let Some(bytes) = request.body().bytes()
        {
            self.0.lock().unwrap().push(serde_json::from_slice(bytes)?);
        }
        Ok(())
    }
}

/// The key as S3 puts it in an event: `+` for space, `%XX` for other reserved bytes.
fn event_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'*' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn event(bucket: &str, key: &str, size: u64, etag: &str) -> S3Event {
    serde_json::from_value(json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "test" },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "inputs",
            "bucket": { "name": bucket, "ownerIdentity": { "principalId": "test" }, "arn": format!("arn:aws:s3:::{bucket}") },
            "object": { "key": event_key(key), "size": size, "eTag": etag, "sequencer": "0" }
        }
    }]}))
    .unwrap()
}

/// Uploads an object and returns the event S3 would send for it.
async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> S3Event {
    let out = s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send().await.unwrap();
    event(bucket, key, body.len() as u64, out.e_tag().unwrap_or_default().trim_matches('"'))
}

async fn make_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let store = S3Store::new(s3.clone(), bucket, "");
    String::from_utf8(store.get(key, 1 << 24).await.unwrap_or_else(|e| panic!("{key}: {e}"))).unwrap()
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    S3Store::new(s3.clone(), bucket, "").list(prefix).await.unwrap()
}

fn small_spec(name: &str) -> String {
    json!({
        "name": name, "seed": 7, "paths": 4000, "training_paths": 2000, "batch_size": 1024,
        "instruments": [
            { "id": "put-36",
              "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06, "dividend": 0.0 },
              "payoff": { "type": "put", "strike": 40.0 },
              "exercise": { "style": "american", "maturity": 1.0, "steps": 10 } },
            { "id": "call-42",
              "model": { "type": "gbm", "spot": 42.0, "vol": 0.25, "rate": 0.05, "dividend": 0.02 },
              "payoff": { "type": "call", "strike": 40.0 },
              "exercise": { "style": "bermudan", "steps": 4, "maturity": 0.5 } }
        ]
    })
    .to_string()
}

/// Every number written after `"field": ` in a JSON text, parsed with std's correctly
/// rounded parser (so the comparison is bit-exact).
fn raw_numbers(text: &str, field: &str) -> Vec<f64> {
    let pattern = format!("\"{field}\":");
    text.match_indices(&pattern)
        .map(|(i, _)| {
            let rest = text[i + pattern.len()..].trim_start();
            let end = rest.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c))).unwrap_or(rest.len());
            rest[..end].parse::<f64>().unwrap()
        })
        .collect()
}

fn context(s3: aws_sdk_s3::Client, batch: Option<aws_sdk_batch::Client>, config: TriggerConfig) -> TriggerContext {
    TriggerContext { s3, batch, config }
}

#[tokio::test]
async fn s3_store_round_trip_and_conditional_put_on_moto() {
    let moto = Moto::start();
    let s3 = moto.s3().await;
    make_bucket(&s3, "store-test").await;
    let store = pathgrid_store::open("s3://store-test/base", &S3Options::local(moto.endpoint())).await.unwrap();
    store.put("a/one.json", b"{\"x\":1}".to_vec()).await.unwrap();
    store.put("a/two words +é.txt", b"hello".to_vec()).await.unwrap();
    store.put("b/three", b"3".to_vec()).await.unwrap();
    assert_eq!(store.get("a/one.json", 100).await.unwrap(), b"{\"x\":1}");
    assert!(matches!(
        store.get("a/two words +é.txt", 4).await,
        Err(pathgrid_store::Error::TooLarge { size: 5, limit: 4, .. })
    ));
    assert!(matches!(store.get("missing", 4).await, Err(pathgrid_store::Error::NotFound { .. })));
    assert_eq!(store.list("a/").await.unwrap(), vec!["a/one.json", "a/two words +é.txt"]);
    assert_eq!(store.list("").await.unwrap().len(), 3);
    // The prefix is really a prefix in the bucket.
    assert_eq!(keys(&s3, "store-test", "").await.len(), 3);
    assert!(keys(&s3, "store-test", "base/b/").await.contains(&"base/b/three".to_string()));

    assert!(store.put_if_absent("markers/m", b"first".to_vec()).await.unwrap());
    assert!(!store.put_if_absent("markers/m", b"second".to_vec()).await.unwrap());
    assert_eq!(store.get("markers/m", 100).await.unwrap(), b"first");
    store.delete("markers/m").await.unwrap();
    store.delete("markers/m").await.unwrap();
    assert!(store.put_if_absent("markers/m", b"third".to_vec()).await.unwrap());
}

#[tokio::test]
async fn trigger_prices_spec_and_csv_inputs_and_ignores_results() {
    let moto = Moto::start();
    let s3 = moto.s3().await;
    let bucket = "pathgrid-in";
    make_bucket(&s3, bucket).await;
    let ctx = context(s3.clone(), None, TriggerConfig::default());

    // A JSON spec under inputs/, with spaces, '+' and non-ASCII in the key.
    let spec = small_spec("desk+book");
    let key = "inputs/desk a/book+v1 é€.json";
    let outcomes = handle_s3_event(upload(&s3, bucket, key, spec.as_bytes()).await, &ctx).await.unwrap();
    let result_key = "results/desk a/book+v1 é€.json";
    assert!(matches!(&outcomes[..], [Outcome::Priced { result_key: r, .. }] if r == result_key), "{outcomes:?}");
    let text = read(&s3, bucket, result_key).await;
    let result: JobResult = serde_json::from_str(&text).unwrap();
    let job = pathgrid_pricing::parse_job(&spec).unwrap();
    let expected = price_job_sequential(&job).unwrap();
    assert_eq!(result.name, "desk+book");
    assert_eq!(result.results.len(), 2);
    assert_eq!(result.stats.path_steps, job.path_steps());
    let ids: Vec<_> = result.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["put-36", "call-42"]);
    // serde_json reads floats exactly (float_roundtrip), so equal results mean equal bits.
    assert_eq!(result.results, expected, "the trigger's result equals the pricing core's");
    let prices = raw_numbers(&text, "price");
    assert_eq!(prices[0].to_bits(), expected[0].price.to_bits(), "the text holds the exact price");
    let r = &result.results;
    eprintln!("spec: put-36 {} ± {}, call-42 {} ± {}", r[0].price, r[0].std_error, r[1].price, r[1].std_error);

    // A workshop CSV: one result row per input row, the same numbers as the pricing core.
    let csv = "id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate\n\
               opt-001,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,05/17/2025\n\
               opt-002,11/15/2024,11/17/2024,Call,42,40,0.05,0.25,02/17/2025\n\
               opt-003,11/15/2024,11/17/2024,Put,44,45,0.04,0.3,02/17/2025\n";
    let outcomes =
        handle_s3_event(upload(&s3, bucket, "inputs/port folio.csv", csv.as_bytes()).await, &ctx).await.unwrap();
    assert!(matches!(&outcomes[..], [Outcome::Priced { .. }]), "{outcomes:?}");
    let out = read(&s3, bucket, "results/port folio.csv").await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].ends_with(",price,std_error,ci95_low,ci95_high"));
    let portfolio = pathgrid_pricing::workshop_csv::parse(
        csv,
        "port folio",
        &pathgrid_pricing::workshop_csv::CsvSettings::default(),
    )
    .unwrap();
    let job = portfolio.spec.validate().unwrap();
    for (i, r) in price_job_sequential(&job).unwrap().iter().enumerate() {
        assert!(lines[i + 1].starts_with(&format!("opt-00{}", i + 1)));
        let tail = format!(",{:.6},{:.6},{:.6},{:.6}", r.price, r.std_error, r.ci95[0], r.ci95[1]);
        assert!(lines[i + 1].ends_with(&tail), "{}", lines[i + 1]);
    }

    // Writes under results/ (the trigger's own) and elsewhere do nothing.
    let before = keys(&s3, bucket, "").await;
    for key in ["results/desk a/book+v1 é€.json", "other/x.json", "inputs/"] {
        let outcomes = handle_s3_event(upload(&s3, bucket, key, spec.as_bytes()).await, &ctx).await.unwrap();
        assert!(matches!(&outcomes[..], [Outcome::Ignored { .. }]), "{key}: {outcomes:?}");
    }
    let mut after = keys(&s3, bucket, "").await;
    after.retain(|k| !k.starts_with("other/") && k != "inputs/");
    assert_eq!(before, after);
}

#[tokio::test]
async fn trigger_writes_error_reports_for_bad_inputs() {
    let moto = Moto::start();
    let s3 = moto.s3().await;
    let bucket = "pathgrid-bad";
    make_bucket(&s3, bucket).await;
    let config = TriggerConfig { max_input_bytes: 4096, ..TriggerConfig::default() };
    let ctx = context(s3.clone(), None, config);

    let wrong_field = small_spec("w").replace("\"spot\":36.0", "\"spot\":-36.0");
    assert_ne!(wrong_field, small_spec("w"));
    let unknown_field = small_spec("u").replace("\"seed\"", "\"sead\"");
    let oversized = format!("{}{}", small_spec("big"), " ".repeat(5000));
    let bad_csv = "id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate\n\
                   opt-001,11/15/2024,11/17/2024,Swap,36,40,0.06,0.2,05/17/2025\n";
    let cases: [(&str, &str, &str); 5] = [
        ("inputs/broken.json", "{ \"name\": \"x\", ", "line"),
        ("inputs/wrong.json", &wrong_field, "instruments[0].model.spot"),
        ("inputs/unknown.json", &unknown_field, "sead"),
        ("inputs/huge.json", &oversized, "too large"),
        ("inputs/bad.csv", bad_csv, "optionType"),
    ];
    for (key, body, needle) in cases {
        let outcomes = handle_s3_event(upload(&s3, bucket, key, body.as_bytes()).await, &ctx).await.unwrap();
        let error_key =
            key.replace("inputs/", "results/").replace(".json", ".error.json").replace(".csv", ".error.json");
        assert!(
            matches!(&outcomes[..], [Outcome::Rejected { error_key: e, .. }] if *e == error_key),
            "{key}: {outcomes:?}"
        );
        let report: Value = serde_json::from_str(&read(&s3, bucket, &error_key).await).unwrap();
        let text = report.to_string();
        assert!(text.contains(needle), "{key}: report does not name {needle:?}: {text}");
        assert_eq!(report["input"], format!("s3://{bucket}/{key}"));
        eprintln!("{key}: {}", report["error"]);
    }
    // The oversized object is rejected even when the event does not give its size.
    let mut ev = upload(&s3, bucket, "inputs/huge2.json", oversized.as_bytes()).await;
    ev.records[0].s3.object.size = None;
    let outcomes = handle_s3_event(ev, &ctx).await.unwrap();
    assert!(
        matches!(&outcomes[..], [Outcome::Rejected { reason, .. }] if reason.contains("too large")),
        "{outcomes:?}"
    );
    assert!(keys(&s3, bucket, "results/").await.iter().all(|k| k.ends_with(".error.json")));
}

/// moto Batch without Docker: IAM role, compute environment, queue, multinode job definition.
async fn setup_batch(moto: &Moto, batch: &aws_sdk_batch::Client) -> String {
    use aws_sdk_batch::types::{
        CeState, CeType, ComputeEnvironmentOrder, ContainerProperties, JobDefinitionType, JqState, NodeProperties,
        NodeRangeProperty, ResourceRequirement, ResourceType,
    };
    let (status, body) = moto
        .http(
            "POST",
            "/moto-api/config",
            &[("Content-Type", "application/json")],
            r#"{"batch": {"use_docker": false}}"#,
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let form = "Action=CreateRole&Version=2010-05-08&RoleName=batch-service&Path=%2F&AssumeRolePolicyDocument=%7B%7D";
    let auth =
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";
    let (status, body) = moto
        .http("POST", "/", &[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", auth)], form)
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let role = "arn:aws:iam::123456789012:role/batch-service";
    let ce = batch
        .create_compute_environment()
        .compute_environment_name("pathgrid-ce")
        .r#type(CeType::Unmanaged)
        .state(CeState::Enabled)
        .service_role(role)
        .send()
        .await
        .unwrap();
    batch
        .create_job_queue()
        .job_queue_name("pathgrid-queue")
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(ce.compute_environment_arn().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let def = batch
        .register_job_definition()
        .job_definition_name("pathgrid-mnp")
        .r#type(JobDefinitionType::Multinode)
        .node_properties(
            NodeProperties::builder()
                .num_nodes(2)
                .main_node(0)
                .node_range_properties(
                    NodeRangeProperty::builder()
                        .target_nodes("0:")
                        .container(
                            ContainerProperties::builder()
                                .image("pathgrid:latest")
                                .resource_requirements(
                                    ResourceRequirement::builder().r#type(ResourceType::Vcpu).value("2").build(),
                                )
                                .resource_requirements(
                                    ResourceRequirement::builder().r#type(ResourceType::Memory).value("2048").build(),
                                )
                                .command("pathgrid")
                                .command("batch")
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    def.job_definition_arn().unwrap().to_string()
}

#[tokio::test]
async fn large_job_delivered_three_times_submits_one_batch_job() {
    let moto = Moto::start();
    let s3 = moto.s3().await;
    let capture = Capture::default();
    let batch = batch_client(&moto, Some(capture.clone())).await;
    let def_arn = setup_batch(&moto, &batch).await;
    let bucket = "pathgrid-large";
    make_bucket(&s3, bucket).await;
    let config = TriggerConfig {
        job_queue: Some("pathgrid-queue".into()),
        job_definition: Some("pathgrid-mnp".into()),
        inline_max_path_steps: 1_000,
        path_steps_per_node: 50_000,
        max_nodes: 8,
        ..TriggerConfig::default()
    };
    let ctx = context(s3.clone(), Some(batch.clone()), config);

    let spec = small_spec("large one");
    let work = pathgrid_pricing::parse_job(&spec).unwrap().path_steps();
    let expected_nodes = u32::try_from(work.div_ceil(50_000)).unwrap().min(8);
    assert!(expected_nodes > 1);
    let key = "inputs/big book+1.json";
    let ev = upload(&s3, bucket, key, spec.as_bytes()).await;
    let mut submitted = Vec::new();
    for _ in 0..3 {
        submitted.extend(handle_s3_event(ev.clone(), &ctx).await.unwrap());
    }
    let (job_name, job_id) = match &submitted[0] {
        Outcome::Submitted { job_name, job_id, num_nodes, path_steps, .. } => {
            assert_eq!(*num_nodes, expected_nodes);
            assert_eq!(*path_steps, work);
            (job_name.clone(), job_id.clone())
        }
        other => panic!("first delivery: {other:?}"),
    };
    for o in &submitted[1..] {
        assert!(matches!(o, Outcome::AlreadySubmitted { job_name: n, .. } if *n == job_name), "{o:?}");
    }
    assert_eq!(keys(&s3, bucket, "markers/").await, vec![format!("markers/{job_name}")]);
    assert!(read(&s3, bucket, &format!("markers/{job_name}")).await.contains(&job_id));

    // Exactly one job in the queue, with our name and job definition.
    let listed = batch.list_jobs().job_queue("pathgrid-queue").send().await.unwrap();
    let mut ids: Vec<String> = listed.job_summary_list().iter().filter_map(|j| j.job_id().map(String::from)).collect();
    for status in ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"] {
        let listed = batch.list_jobs().job_queue("pathgrid-queue").job_status(status.into()).send().await.unwrap();
        ids.extend(listed.job_summary_list().iter().filter_map(|j| j.job_id().map(String::from)));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids, vec![job_id.clone()]);
    let described = batch.describe_jobs().jobs(&job_id).send().await.unwrap();
    let job = &described.jobs()[0];
    assert_eq!(job.job_name(), Some(job_name.as_str()));
    assert_eq!(job.job_definition(), Some(def_arn.as_str()));

    // moto does not keep nodeOverrides, so check the SubmitJob request itself: one request,
    // numNodes sized from the work, the input URL in the environment of all nodes.
    let requests = capture.0.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!(r["jobName"], job_name.as_str());
    assert_eq!(r["jobQueue"], "pathgrid-queue");
    assert_eq!(r["jobDefinition"], "pathgrid-mnp");
    assert_eq!(r["nodeOverrides"]["numNodes"], expected_nodes);
    let o = &r["nodeOverrides"]["nodePropertyOverrides"][0];
    assert_eq!(o["targetNodes"], "0:");
    let env = o["containerOverrides"]["environment"].as_array().unwrap();
    let var = |name: &str| env.iter().find(|e| e["name"] == name).map(|e| e["value"].clone());
    assert_eq!(var("PATHGRID_JOB_INPUT"), Some(json!(format!("s3://{bucket}/{key}"))));
    assert_eq!(var("PATHGRID_JOB_OUTPUT"), Some(json!(format!("s3://{bucket}/results/big book+1.json"))));
    eprintln!("work {work} path-steps -> {expected_nodes} nodes, job {job_name} ({job_id})");

    // A new upload of the same key (another ETag) is another job.
    let ev2 = upload(&s3, bucket, key, small_spec("large two").as_bytes()).await;
    let outcomes = handle_s3_event(ev2, &ctx).await.unwrap();
    assert!(matches!(&outcomes[..], [Outcome::Submitted { job_name: n, .. }] if *n != job_name), "{outcomes:?}");
}

/// The Lambda dies between writing `markers/<job>` and SubmitJob returning (a fault injected
/// through the handler's config): redeliveries neither strand the input nor submit it twice.
#[tokio::test]
async fn delivery_dying_after_the_pending_marker_is_submitted_once_by_a_redelivery() {
    use pathgrid_trigger::{Error, Fault};
    let moto = Moto::start();
    let s3 = moto.s3().await;
    let capture = Capture::default();
    let batch = batch_client(&moto, Some(capture.clone())).await;
    setup_batch(&moto, &batch).await;
    let bucket = "pathgrid-stranded";
    make_bucket(&s3, bucket).await;
    let config = TriggerConfig {
        job_queue: Some("pathgrid-queue".into()),
        job_definition: Some("pathgrid-mnp".into()),
        inline_max_path_steps: 1_000,
        ..TriggerConfig::default()
    };
    let with = |config: TriggerConfig| context(s3.clone(), Some(batch.clone()), config);
    let ev = upload(&s3, bucket, "inputs/stranded.json", small_spec("stranded").as_bytes()).await;
    let submits = || capture.0.lock().unwrap().len();
    let marker = || async {
        let keys = keys(&s3, bucket, "markers/").await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        let text = read(&s3, bucket, &keys[0]).await;
        (keys[0].clone(), serde_json::from_str::<Value>(&text).unwrap())
    };

    // 1. The delivery dies right after writing the pending marker.
    let dying = with(TriggerConfig { fault: Some(Fault::AfterPendingMarker), ..config.clone() });
    let err = handle_s3_event(ev.clone(), &dying).await.unwrap_err();
    assert!(matches!(err, Error::Injected(Fault::AfterPendingMarker)), "{err}");
    let (marker_key, pending) = marker().await;
    assert_eq!(pending["state"], "pending", "{pending}");
    assert!(pending["since"].as_u64().is_some_and(|t| t > 0), "{pending}");
    assert!(pending.get("job_id").is_none(), "{pending}");
    assert_eq!(submits(), 0);

    // 2. A redelivery while the marker is fresh (the first delivery might still be
    //    submitting) leaves it alone, and fails so that the event comes back later.
    let err = handle_s3_event(ev.clone(), &with(config.clone())).await.unwrap_err();
    assert!(matches!(&err, Error::InFlight { .. }), "{err}");
    assert_eq!(marker().await.1, pending);
    assert_eq!(submits(), 0);

    // 3. Once the marker is stale, a redelivery asks Batch, finds nothing and submits.
    let stale = with(TriggerConfig { marker_stale_after: Duration::ZERO, ..config.clone() });
    let outcomes = handle_s3_event(ev.clone(), &stale).await.unwrap();
    let (job_name, job_id) = match &outcomes[..] {
        [Outcome::Submitted { job_name, job_id, .. }] => (job_name.clone(), job_id.clone()),
        other => panic!("stale redelivery: {other:?}"),
    };
    let (_, submitted) = marker().await;
    assert_eq!(submitted["state"], "submitted", "{submitted}");
    assert_eq!(submitted["job_id"], job_id.as_str());
    assert_eq!(submits(), 1);

    // 4. A third delivery does nothing.
    let outcomes = handle_s3_event(ev.clone(), &stale).await.unwrap();
    assert!(matches!(&outcomes[..], [Outcome::AlreadySubmitted { job_name: n, .. }] if *n == job_name), "{outcomes:?}");
    assert_eq!(submits(), 1);

    // 5. A delivery that died after SubmitJob returned but before marking it: the stale
    //    pending marker is corrected from Batch, and nothing is submitted again.
    let mut rewound = submitted.clone();
    rewound["state"] = json!("pending");
    rewound["since"] = json!(1);
    rewound.as_object_mut().unwrap().remove("job_id");
    S3Store::new(s3.clone(), bucket, "").put(&marker_key, rewound.to_string().into_bytes()).await.unwrap();
    let outcomes = handle_s3_event(ev, &stale).await.unwrap();
    assert!(matches!(&outcomes[..], [Outcome::AlreadySubmitted { .. }]), "{outcomes:?}");
    assert_eq!(marker().await.1["job_id"], job_id.as_str());
    assert_eq!(submits(), 1);

    let named = aws_sdk_batch::types::KeyValuesPair::builder().name("JOB_NAME").values(&job_name).build();
    let listed = batch.list_jobs().job_queue("pathgrid-queue").filters(named).send().await.unwrap();
    let ids: Vec<_> = listed.job_summary_list().iter().filter_map(|j| j.job_id()).collect();
    assert_eq!(ids, [job_id.as_str()], "exactly one Batch job for the input");
}

#[test]
fn cloudformation_template_passes_cfn_lint() {
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/template.yaml");
    assert!(std::path::Path::new(template).is_file(), "{template} is missing");
    match Command::new("cfn-lint").arg(template).output() {
        Ok(out) => assert!(
            out.status.success(),
            "cfn-lint {template}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("cfn-lint not available ({e}); skipped"),
    }
}

/// `pathgrid batch` as an AWS Batch multi-node parallel job runs it: three processes with
/// the MNP environment (main + 2 children dialing the main node's address), the input on
/// S3. The main node waits for both children, prices the spec across the three nodes,
/// writes `results/<name>.json` and every process exits 0 (children when released; a child
/// that never attached would give up and fail). The prices equal the sequential reference,
/// which `pathgrid run` reproduces bit for bit (see cli_run and cluster_grpc).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_mnp_three_processes_price_a_spec_from_s3() {
    let moto = Moto::start();
    let s3 = moto.s3().await;
    make_bucket(&s3, "mnp-job").await;
    let spec = small_spec("mnp-rehearsal");
    upload(&s3, "mnp-job", "inputs/mnp-rehearsal.json", spec.as_bytes()).await;

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // On Batch the job definition maps its Secrets Manager secret to PATHGRID_TOKEN.
    let token = pathgrid_proto::auth::random_token().unwrap();
    let spawn = |index: u32| {
        let mut cmd = Command::new(pathgrid_tests::pathgrid_bin());
        cmd.arg("batch")
            .env("PATHGRID_TOKEN", &token)
            .env("AWS_BATCH_JOB_NODE_INDEX", index.to_string())
            .env("AWS_BATCH_JOB_MAIN_NODE_INDEX", "0")
            .env("AWS_BATCH_JOB_NUM_NODES", "3")
            .env("AWS_BATCH_JOB_ID", "mnp-test-job")
            .env("PATHGRID_PORT", port.to_string())
            .env("PATHGRID_LISTEN_HOST", "127.0.0.1")
            .env("PATHGRID_WAIT_FOR_NODES_SECS", "60")
            .env("PATHGRID_JOB_INPUT", "s3://mnp-job/inputs/mnp-rehearsal.json")
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if index != 0 {
            cmd.env("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS", "127.0.0.1");
        }
        cmd.spawn().unwrap()
    };
    // Children first: they retry until the main node listens, as on Batch.
    let mut children: Vec<Child> = vec![spawn(1), spawn(2), spawn(0)];
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut codes = vec![None; children.len()];
    while codes.iter().any(Option::is_none) && Instant::now() < deadline {
        for (c, code) in children.iter_mut().zip(codes.iter_mut()) {
            if code.is_none() {
                *code = c.try_wait().unwrap().map(|s| s.code());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut logs = Vec::new();
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
        let mut err = String::new();
        if let Some(mut e) = c.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        logs.push(err);
    }
    for (i, code) in codes.iter().enumerate() {
        assert_eq!(*code, Some(Some(0)), "process {i} did not exit 0; its log:\n{}", logs[i]);
    }

    let text = read(&s3, "mnp-job", "results/mnp-rehearsal.json").await;
    let result: JobResult = serde_json::from_str(&text).unwrap();
    let job = pathgrid_pricing::parse_job(&spec).unwrap();
    let reference = price_job_sequential(&job).unwrap();
    assert_eq!(result.results, reference, "the multi-node result equals the single-machine one");
    let main_log = &logs[2];
    assert!(main_log.contains("all nodes attached"), "main node log:\n{main_log}");
}
