//! What the fuzz targets share: the checks a decoded value must pass, run on it the way the
//! coordinator and the nodes use it. Each target feeds these from its own decoder.
//!
//! Every check is "never panics" plus, where cheap, a round trip. A failed `assert!` here is
//! a finding, like any panic in the code under test.

use pathgrid_coordinator::protocol::JobContext;
use pathgrid_coordinator::session;
use pathgrid_pricing::basis::MAX_BASIS_LEN;
use pathgrid_pricing::validate::MAX_BATCH_SIZE;
use pathgrid_pricing::{ExercisePolicy, JobSpec, Phase, PricingStats, Problem, RegressionStats, finish, parse_spec};
use pathgrid_proto::{DEFAULT_MAX_MESSAGE_BYTES, convert, v1};
use pathgrid_protocol::TaskOutput;
use prost::Message;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// The input as text: the CLI refuses bytes that are not UTF-8, other callers (an S3 key, a
/// lossy log line) may not, so invalid sequences become U+FFFD rather than ending the run.
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Most exercise dates, over all legs, of a job whose legs are prepared (`Problem::all`).
const MAX_PREPARED_DATES: usize = 2_000;

/// A spec however it was read (JSON, CSV, proto): it converts to the wire and back, and if
/// it validates, the coordinator can take it (job context, delivery check) and its
/// checkpoint JSON reads back as the same spec.
pub fn check_spec(spec: &JobSpec) {
    // The wire form of a spec is canonical: converting it back and forth changes nothing.
    // Compared as bytes, since a spec from the wire may hold NaN (validation refuses it).
    let wire = convert::spec_to_proto(spec);
    let back = convert::spec_from_proto(&wire);
    assert!(back.is_ok(), "a spec's own wire form is refused: {back:?}");
    if let Ok(back) = back {
        assert_eq!(
            convert::spec_to_proto(&back).encode_to_vec(),
            wire.encode_to_vec(),
            "wire round trip changed the spec"
        );
    }
    let Ok(job) = spec.validate() else { return };
    // Checkpoints store the spec as JSON: a valid spec must read back unchanged.
    let json = serde_json::to_string(spec);
    assert!(json.is_ok(), "a valid spec does not serialize: {json:?}");
    if let Ok(json) = json {
        let again = parse_spec(&json);
        assert_eq!(again.as_ref(), Ok(spec), "a valid spec's JSON reads back differently: {json}");
    }
    let _ = session::check_deliverable("fuzz-job", spec, DEFAULT_MAX_MESSAGE_BYTES);
    // Preparing a leg tabulates its European value per date: a valid job of 100,000 dates
    // takes seconds, as it should, and would only slow the search down.
    let dates: usize = job.instruments.iter().map(|i| i.dates.len()).sum();
    if dates > MAX_PREPARED_DATES {
        return;
    }
    let ctx = JobContext::new(Arc::from("fuzz-job"), spec.clone(), job);
    for p in &ctx.problems {
        let _ = (p.regression_dates(), p.basis_len());
    }
}

/// Decoding, re-encoding and decoding again gives the same bytes: prost drops unknown
/// fields once, and nothing else may change.
pub fn check_reencode<M: Message + Default>(msg: &M) {
    let bytes = msg.encode_to_vec();
    let again = M::decode(bytes.as_slice());
    assert!(again.is_ok(), "a message's own encoding does not decode");
    if let Ok(again) = again {
        assert_eq!(again.encode_to_vec(), bytes, "re-encoding changed the message");
    }
}

/// A one-asset Bermudan put in one batch of the largest size: the job whose leg the
/// statistics of the proto targets are finished against (it takes the dual bound, so every
/// sum is read).
fn reference_problem() -> &'static Option<Problem> {
    static PROBLEM: OnceLock<Option<Problem>> = OnceLock::new();
    PROBLEM.get_or_init(|| {
        let job = pathgrid_pricing::parse_job(
            r#"{"name":"fuzz","seed":1,"paths":1048576,"batch_size":1048576,"instruments":[{"id":"p",
              "model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
              "payoff":{"type":"put","strike":40},
              "exercise":{"style":"bermudan","maturity":1,"steps":4}}]}"#,
        )
        .ok()?;
        Problem::all(&job).into_iter().next()
    })
}

/// What becomes of a node's task output once the scheduler accepted its shape: finite
/// statistics are merged in batch order (here the same batch twice) and solved or finished.
/// Non-finite ones fail the job before that (`scheduler::check_output`).
pub fn check_output(output: &TaskOutput) {
    match output {
        TaskOutput::Regression(s) => check_regression(s),
        TaskOutput::Pricing(p) => check_pricing(p),
    }
}

fn check_regression(s: &RegressionStats) {
    // The scheduler accepts only the instrument's basis size, which is at most MAX_BASIS_LEN,
    // and no more samples than the batch has paths, at most MAX_BATCH_SIZE.
    let paths = MAX_BATCH_SIZE as usize;
    if s.dim > MAX_BASIS_LEN || s.check(s.dim).is_err() || s.check_count(paths).is_err() || !s.is_finite() {
        return;
    }
    let mut merged = RegressionStats::new(s.dim);
    for _ in 0..2 {
        if merged.merge(s).is_err() {
            return;
        }
    }
    if let Some(beta) = merged.solve() {
        assert_eq!(beta.len(), s.dim, "β has the wrong length");
    }
}

fn check_pricing(p: &PricingStats) {
    let Some(problem) = reference_problem() else { return };
    let paths = problem.batch_len(Phase::Pricing, 0).unwrap_or(0);
    if p.check(paths).is_err() || !p.is_finite() {
        return;
    }
    let policy = ExercisePolicy { coefficients: vec![None; problem.regression_dates()] };
    let _ = finish(problem, &policy, &[*p, *p]);
}

/// A task result as the coordinator reads it (`convert::task_output`), then used.
pub fn check_task_result(r: &v1::TaskResult) {
    if let Ok(output) = convert::task_output(r) {
        check_output(&output);
    }
}

/// A job definition as a node takes it (`pathgrid_node::take_definition`): read, then
/// validated and defined on its `Worker`, or refused with the reason.
pub fn check_definition(def: &v1::JobDefinition) {
    let mut worker = pathgrid_node::worker::Worker::new(1 << 20);
    let defined = pathgrid_node::take_definition(&mut worker, def);
    assert_eq!(defined.is_ok(), worker.knows_job(&def.job_id), "a definition's outcome and the worker disagree");
}

/// The small job a fuzzed node holds, so that a task it accepts runs in microseconds.
const NODE_JOB: &str = r#"{"name":"fuzz-node","seed":3,"paths":64,"batch_size":32,"instruments":[
  {"id":"p","model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
   "payoff":{"type":"put","strike":40},"exercise":{"style":"bermudan","maturity":1,"steps":4}},
  {"id":"b","model":{"type":"gbm","spot":[100,90],"vol":[0.2,0.3],"rate":0.05,"correlation":[[1,0.3],[0.3,1]]},
   "payoff":{"type":"max_call","strike":95},"exercise":{"style":"bermudan","maturity":1,"steps":3}}]}"#;

/// What a node does with a message from its coordinator: a definition is read and, if it
/// reads, defined (validated) on a fresh worker; a task is read and handed to a worker that
/// holds [`NODE_JOB`] as job `fuzz-node`, and run if the worker accepts it. A task the
/// worker accepts must produce statistics of its instrument's shape, or a named failure.
pub fn check_coordinator_message(msg: &v1::CoordinatorMessage) {
    use pathgrid_node::worker::Worker;
    use v1::coordinator_message::Msg;
    match &msg.msg {
        Some(Msg::Job(def)) => check_definition(def),
        Some(Msg::Task(t)) => {
            let Ok(task) = convert::task_from_proto(t) else { return };
            let Ok(spec) = parse_spec(NODE_JOB) else { return };
            let mut worker = Worker::new(1 << 20);
            assert!(worker.define("fuzz-node", spec).is_ok(), "the fuzz node's own job is refused");
            let (instrument, training) =
                (task.instrument, matches!(task.kind, pathgrid_protocol::NodeTaskKind::Train { .. }));
            let Ok(work) = worker.prepare(task) else { return };
            let done = work();
            match done.result {
                Ok(TaskOutput::Regression(s)) => {
                    assert!(training, "a pricing task answered with regression statistics");
                    assert!(s.check(s.dim).is_ok(), "instrument {instrument}: malformed regression statistics");
                }
                Ok(TaskOutput::Pricing(p)) => assert!(!training && p.samples > 0, "instrument {instrument}: {p:?}"),
                Err(f) => assert!(!f.message.is_empty(), "a failure without a reason"),
            }
        }
        _ => {}
    }
}
