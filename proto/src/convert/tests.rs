#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::v1;
use pathgrid_pricing::{self as pricing, ExercisePolicy, RegressionStats};

const SPEC: &str = r#"{
      "name": "mix", "seed": 7, "paths": 1000, "training_paths": 500, "batch_size": 128,
      "antithetic": false, "basis": { "kind": "polynomial", "degree": 2 },
      "instruments": [
        { "id": "a", "model": { "type": "gbm", "spot": [100, 90], "vol": [0.2, 0.3], "rate": 0.05,
            "dividend": 0.01, "correlation": [[1, 0.3], [0.3, 1]] },
          "payoff": { "type": "basket_call", "strike": 95, "weights": [0.5, 0.5] },
          "exercise": { "style": "bermudan", "maturity": 1, "dates": [0.5, 1.0] } },
        { "id": "b", "model": { "type": "gbm", "spot": 36, "vol": 0.2, "rate": 0.06 },
          "payoff": { "type": "max_call", "strike": 40 },
          "exercise": { "style": "american", "maturity": 1, "steps": 10 } }
      ] }"#;

#[test]
fn spec_round_trips() {
    let spec = pricing::parse_spec(SPEC).unwrap();
    let back = spec_from_proto(&spec_to_proto(&spec)).unwrap();
    assert_eq!(spec, back);
}

#[test]
fn missing_fields_are_named() {
    let spec = pricing::parse_spec(SPEC).unwrap();
    let mut p = spec_to_proto(&spec);
    p.instruments[1].payoff = None;
    let e = spec_from_proto(&p).unwrap_err();
    assert!(e.to_string().contains("instruments[1].payoff"), "{e}");
    let mut p = spec_to_proto(&spec);
    p.instruments[0].model = Some(v1::ModelSpec { model: Some(v1::model_spec::Model::Gbm(v1::GbmSpec::default())) });
    let e = spec_from_proto(&p).unwrap_err();
    assert!(e.to_string().contains("instruments[0].model.spot"), "{e}");
    let mut p = spec_to_proto(&spec);
    p.instruments[0].exercise.as_mut().unwrap().style = 99;
    assert!(spec_from_proto(&p).unwrap_err().to_string().contains("exercise.style"));
}

#[test]
fn stats_are_checked() {
    let mut s = RegressionStats::new(3);
    s.add(&[1.0, 2.0, 3.0], 4.0);
    let p = regression_to_proto(&s);
    assert_eq!(regression_from_proto(&p, 3, "r").unwrap(), s);
    assert!(regression_from_proto(&p, 4, "r").is_err());
    let mut bad = p.clone();
    bad.ata.pop();
    assert!(regression_from_proto(&bad, 3, "r").is_err());
    // A non-finite sum is well-formed: the receiver fails the job over it.
    let mut nan = p;
    nan.aty[0] = f64::NAN;
    assert!(!regression_from_proto(&nan, 3, "r").unwrap().is_finite());
    let c = coefficients_to_proto(2, &Some(vec![1.0, 2.0]));
    assert_eq!(coefficients_from_proto(&c, "c").unwrap(), (2, Some(vec![1.0, 2.0])));
    let mut inf = c.clone();
    inf.values[1] = f64::INFINITY;
    assert_eq!(coefficients_from_proto(&inf, "c").unwrap_err().to_string(), "c.values: must be finite");
    let policy = ExercisePolicy { coefficients: vec![None, Some(vec![1.0, 2.0])] };
    assert_eq!(policy_from_proto(&policy_to_proto(&policy), "p").unwrap(), policy);
    let mut swapped = policy_to_proto(&policy);
    swapped.coefficients.swap(0, 1);
    assert_eq!(policy_from_proto(&swapped, "p").unwrap_err().to_string(), "p.coefficients[0].date: expected 0, got 1");
}

#[test]
fn every_phase_round_trips_and_unknown_ones_are_named() {
    use pathgrid_protocol::{JobPhase, Progress};
    for phase in JobPhase::ALL {
        let p = Progress {
            job_id: "j".into(),
            name: "n".into(),
            phase,
            date: (phase == JobPhase::Training).then_some(3),
            batches_done: 2,
            batches_total: 5,
            instruments_done: 1,
            instruments_total: 3,
            elapsed: std::time::Duration::from_millis(1500),
            eta: None,
            result: None,
            training_tasks: 1,
            pricing_tasks: 0,
            error: None,
        };
        assert_eq!(progress_from_proto(&progress_to_proto(&p)).unwrap(), p);
    }
    let mut e = progress_to_proto(&progress_from_proto(&v1::JobEvent { phase: 1, ..Default::default() }).unwrap());
    e.phase = 99;
    assert_eq!(progress_from_proto(&e).unwrap_err().to_string(), "event.phase: unknown job phase 99");
}

#[test]
fn what_a_node_sends_is_checked_and_named() {
    use crate::v1::node_message::Msg;
    let hello = |id: &str, slots| v1::Hello { node_id: id.into(), slots, ..Default::default() };
    assert_eq!(hello_name(&hello("  n1 ", 2)).unwrap(), "n1");
    assert!(hello_name(&hello("", 2)).unwrap_err().to_string().starts_with("hello.node_id:"));
    assert!(hello_name(&hello("n", 0)).unwrap_err().to_string().starts_with("hello.slots:"));
    let up = |m| v1::NodeMessage { msg: Some(m) };
    assert_eq!(from_node(v1::NodeMessage { msg: None }).unwrap_err().to_string(), "msg: missing");
    assert_eq!(from_node(up(Msg::Hello(hello("n", 1)))).unwrap_err().to_string(), "msg: hello sent twice");
    let error = v1::TaskError { task_id: 4, code: 42, message: String::new() };
    assert_eq!(from_node(up(Msg::Error(error))).unwrap_err().to_string(), "error.code: unknown code 42");
    let result = v1::TaskResult { task_id: 4, stats: None, compute_micros: 0 };
    assert_eq!(from_node(up(Msg::Result(result))).unwrap_err().to_string(), "result.stats: missing");
    let long = v1::TaskError { task_id: 5, code: v1::TaskErrorCode::Fatal as i32, message: "x".repeat(5000) };
    let Ok(pathgrid_protocol::FromNode::Error { message, .. }) = from_node(up(Msg::Error(long))) else {
        panic!("a fatal error is well formed")
    };
    assert_eq!(message.len(), 1000);
}
