//! Property tests of the JSON job spec: no input makes parsing panic, every invalid
//! field is reported with its exact JSON path, and a spec of finite numbers either validates
//! to a job whose every statistic is finite or is refused naming the field.
//!
//! Longer than most files on purpose: the strategies that generate specs field by field are
//! the bulk of it, and each property uses all of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_pricing::workshop_csv::{self, CsvSettings};
use pathgrid_pricing::{parse_job, parse_spec, price_job_sequential};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

const LS2001: &str = include_str!("../../examples/ls2001-put.json");
const BASKET: &str = include_str!("../../examples/basket-put.json");
const MAX_CALL_5: &str = include_str!("../../examples/max-call-5.json");

/// Parses `text` every way an input can be read; only panics matter here.
fn parse_all(text: &str) {
    let _ = parse_spec(text);
    let _ = parse_job(text);
    let _ = workshop_csv::parse(text, "fuzz", &CsvSettings::default());
    let _ = workshop_csv::looks_like_workshop_csv(text);
}

// ---- a random valid spec ---------------------------------------------------------------

#[derive(Debug, Clone)]
struct Params {
    paths: u64,
    spot: f64,
    spots: [f64; 3],
    vol: f64,
    rate: f64,
    maturity: f64,
    steps: u64,
    strike: f64,
}

fn arb_params() -> impl Strategy<Value = Params> {
    (
        4u64..1_000_000,
        1.0f64..200.0,
        [1.0f64..200.0, 1.0f64..200.0, 1.0f64..200.0],
        0.0f64..1.0,
        -0.05f64..0.1,
        0.05f64..5.0,
        1u64..100,
        1.0f64..200.0,
    )
        .prop_map(|(paths, spot, spots, vol, rate, maturity, steps, strike)| Params {
            paths,
            spot,
            spots,
            vol,
            rate,
            maturity,
            steps,
            strike,
        })
}

/// Four instruments: a one-asset put, a correlated basket put with weights, a one-asset call,
/// and a Bermudan max-call with explicit dates.
fn spec(p: &Params) -> Value {
    json!({
        "name": "prop",
        "seed": 7,
        "paths": p.paths,
        "batch_size": 1024,
        "instruments": [
            { "id": "put",
              "model": { "type": "gbm", "spot": p.spot, "vol": p.vol, "rate": p.rate },
              "payoff": { "type": "put", "strike": p.strike },
              "exercise": { "style": "american", "maturity": p.maturity, "steps": p.steps } },
            { "id": "basket",
              "model": { "type": "gbm", "spot": p.spots, "vol": [p.vol, 0.2, 0.3], "rate": p.rate,
                         "dividend": [0.0, 0.01, 0.02],
                         "correlation": [[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]] },
              "payoff": { "type": "basket_put", "strike": p.strike, "weights": [0.5, 0.25, 0.25] },
              "exercise": { "style": "bermudan", "maturity": p.maturity, "steps": p.steps } },
            { "id": "call",
              "model": { "type": "gbm", "spot": p.spot, "vol": p.vol, "rate": p.rate, "dividend": 0.03 },
              "payoff": { "type": "call", "strike": p.strike },
              "exercise": { "style": "european", "maturity": p.maturity } },
            { "id": "max",
              "model": { "type": "gbm", "spot": [p.spot, p.spot], "vol": p.vol, "rate": p.rate, "dividend": 0.1 },
              "payoff": { "type": "max_call", "strike": p.strike },
              "exercise": { "style": "bermudan", "maturity": p.maturity,
                            "dates": [p.maturity / 3.0, 2.0 * p.maturity / 3.0] } }
        ]
    })
}

// ---- invalid fields ----------------------------------------------------------------

/// One invalid value: where to put it (JSON pointer) and the path the error must name.
#[derive(Debug, Clone)]
struct Bad {
    pointer: String,
    value: Value,
    path: String,
}

fn bad(pointer: String, value: impl Into<Value>, path: String) -> Bad {
    Bad { pointer, value: value.into(), path }
}

fn non_positive() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(-0.0), -1e9f64..0.0]
}

/// A 3×3 matrix that is not a valid correlation matrix; mostly not positive semi-definite.
fn bad_correlation() -> impl Strategy<Value = Value> {
    prop_oneof![
        // Symmetric, unit diagonal, entries in [-1, 1], determinant 1 − 3a² − 2a³ < 0.
        4 => (0.51f64..=1.0).prop_map(|a| json!([[1.0, a, a], [a, 1.0, -a], [a, -a, 1.0]])),
        // A perfectly correlated pair with a third asset related to them inconsistently.
        2 => (0.05f64..=1.0).prop_map(|b| json!([[1.0, 1.0, b], [1.0, 1.0, -b], [b, -b, 1.0]])),
        1 => (-0.9f64..0.9, 0.01f64..0.5).prop_map(|(a, e)| json!([[1.0, a, 0.0], [a + e, 1.0, 0.0], [0.0, 0.0, 1.0]])),
        1 => (1.01f64..5.0).prop_map(|a| json!([[1.0, a, 0.0], [a, 1.0, 0.0], [0.0, 0.0, 1.0]])),
        1 => (0.0f64..0.99).prop_map(|d| json!([[d, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])),
        1 => Just(json!([[1.0, 0.0], [0.0, 1.0]])),
        1 => Just(json!([[1.0, 0.0, 0.0], [0.0, 1.0], [0.0, 0.0, 1.0]])),
    ]
}

fn arb_bad() -> impl Strategy<Value = Bad> {
    let one_asset = prop::sample::select(vec![0usize, 2]);
    let any_inst = 0usize..4;
    let asset = 0usize..3;
    prop_oneof![
        (one_asset.clone(), non_positive()).prop_map(|(k, x)| bad(
            format!("/instruments/{k}/model/spot"),
            x,
            format!("instruments[{k}].model.spot")
        )),
        (asset.clone(), non_positive()).prop_map(|(j, x)| bad(
            format!("/instruments/1/model/spot/{j}"),
            x,
            format!("instruments[1].model.spot[{j}]")
        )),
        (one_asset.clone(), -10.0f64..-1e-12).prop_map(|(k, x)| bad(
            format!("/instruments/{k}/model/vol"),
            x,
            format!("instruments[{k}].model.vol")
        )),
        (asset, -10.0f64..-1e-12).prop_map(|(j, x)| bad(
            format!("/instruments/1/model/vol/{j}"),
            x,
            format!("instruments[1].model.vol[{j}]")
        )),
        (any_inst.clone(), non_positive()).prop_map(|(k, x)| bad(
            format!("/instruments/{k}/exercise/maturity"),
            x,
            format!("instruments[{k}].exercise.maturity")
        )),
        (0usize..2).prop_map(|k| bad(
            format!("/instruments/{k}/exercise/steps"),
            0,
            format!("instruments[{k}].exercise.steps")
        )),
        (any_inst, non_positive()).prop_map(|(k, x)| bad(
            format!("/instruments/{k}/payoff/strike"),
            x,
            format!("instruments[{k}].payoff.strike")
        )),
        (one_asset, 1.01f64..1e6).prop_map(|(k, x)| bad(
            format!("/instruments/{k}/model/rate"),
            if k == 0 { x } else { -x },
            format!("instruments[{k}].model.rate")
        )),
        bad_correlation().prop_map(|c| bad(
            "/instruments/1/model/correlation".into(),
            c,
            "instruments[1].model.correlation".into()
        )),
        prop::collection::vec(0.0f64..1.0, 0..8).prop_filter("wrong length", |w| w.len() != 3).prop_map(|w| bad(
            "/instruments/1/payoff/weights".into(),
            w,
            "instruments[1].payoff.weights".into()
        )),
        // dates[1] outside (0, maturity]; the maturity is at most 5 years
        prop_oneof![-1.0f64..=0.0, 5.01f64..50.0].prop_map(|d| bad(
            "/instruments/3/exercise/dates/1".into(),
            d,
            "instruments[3].exercise.dates[1]".into()
        )),
        Just(bad("/paths".into(), 0, "paths".into())),
        Just(bad("/batch_size".into(), 0, "batch_size".into())),
        Just(bad("/batch_size".into(), 1001, "batch_size".into())),
        Just(bad("/instruments/2/id".into(), "put", "instruments[2].id".into())),
        Just(bad("/name".into(), " ", "name".into())),
    ]
}

// ---- finite numbers of any magnitude ------------------------------------------------

/// 10^e for e uniform in [lo, hi). The generators below reach a little past each range
/// validation allows, and mostly stay inside, where combinations of extremes (a spot 10^15
/// times the strike, a 1000% vol over 100 years, degree-12 bases) test the overflow bound.
fn magnitude(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo..hi).prop_map(|e| 10f64.powf(e))
}

fn signed_magnitude(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (magnitude(lo, hi), any::<bool>()).prop_map(|(x, neg)| if neg { -x } else { x })
}

/// One instrument of finite but otherwise arbitrary numbers: 1 to 3 assets, any payoff that
/// fits them, any style, with or without its own basis.
fn wild_instrument(k: usize) -> impl Strategy<Value = (Value, Option<Value>)> {
    (1usize..=3).prop_flat_map(move |assets| {
        (
            prop::collection::vec(magnitude(-6.5, 9.5), assets),
            magnitude(-6.5, 9.5),
            prop::collection::vec(0.0f64..10.5, assets),
            prop::collection::vec(-1.05f64..1.05, assets),
            -1.05f64..1.05,
            magnitude(-3.0, 2.02),
            (0usize..6, prop::collection::vec(signed_magnitude(-3.0, 6.2), assets)),
            (0usize..3, 1u64..4),
            (0usize..4, 0u32..=12),
        )
            .prop_map(
                move |(spots, strike, vols, dividends, rate, maturity, (p, weights), (st, steps), (b, degree))| {
                    let one = spots.len() == 1;
                    let payoff = match (one, p) {
                        (true, p) if p % 2 == 0 => json!({ "type": "put", "strike": strike }),
                        (true, _) => json!({ "type": "call", "strike": strike }),
                        (false, 0) => json!({ "type": "put", "strike": strike, "weights": weights }),
                        (false, 1) => json!({ "type": "basket_call", "strike": strike, "weights": weights }),
                        (false, 2) => json!({ "type": "basket_put", "strike": strike }),
                        (false, 3) => json!({ "type": "max_call", "strike": strike }),
                        (false, 4) => json!({ "type": "min_put", "strike": strike }),
                        (false, _) => json!({ "type": "call", "strike": strike, "weights": weights }),
                    };
                    let style = ["american", "bermudan", "european"][st];
                    let exercise = if style == "european" {
                        json!({ "style": style, "maturity": maturity })
                    } else {
                        json!({ "style": style, "maturity": maturity, "steps": steps })
                    };
                    let instrument = json!({
                        "id": format!("i{k}"),
                        "model": { "type": "gbm", "spot": spots, "vol": vols, "rate": rate, "dividend": dividends },
                        "payoff": payoff,
                        "exercise": exercise,
                    });
                    // Multi-asset polynomial bases grow fast with the degree; keep them cheap.
                    let basis = match (one, b) {
                        (_, 0) => None,
                        (true, 1) => Some(json!({ "kind": "laguerre", "degree": degree })),
                        (true, 2) => Some(json!({ "kind": "monomial", "degree": degree })),
                        (true, _) => Some(json!({ "kind": "polynomial", "degree": degree })),
                        (false, _) => Some(json!({ "kind": "polynomial", "degree": degree.min(4) })),
                    };
                    (instrument, basis)
                },
            )
    })
}

/// A small job (few paths, few dates: quick to run) around one wild instrument.
fn wild_spec() -> impl Strategy<Value = Value> {
    (wild_instrument(0), 4u64..40, 2u64..16, any::<bool>(), any::<u64>()).prop_map(
        |((instrument, basis), paths, batch, antithetic, seed)| {
            let mut spec = json!({
                "name": "wild",
                "seed": seed,
                "paths": 2 * paths,
                "batch_size": 2 * batch,
                "antithetic": antithetic,
                "instruments": [instrument],
            });
            if let Some(b) = basis {
                spec["basis"] = b;
            }
            spec
        },
    )
}

// ---- arbitrary JSON and mutations --------------------------------------------------

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![0.0, -0.0, -1.0, 1.0, 0.5, 2.0, 1e308, -1e308, 5e-324, 1e-9]).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "gbm",
            "put",
            "call",
            "max_call",
            "min_put",
            "basket_put",
            "basket_call",
            "american",
            "bermudan",
            "european",
            "laguerre",
            "monomial",
            "polynomial",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (prop::sample::select(vec!["type", "spot", "strike", "steps", "dates", "x", "kind", "degree"]), inner),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// JSON pointers to every node below the root.
fn pointers(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{prefix}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{prefix}/{i}");
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Op {
    Replace,
    Remove,
    AddField(String),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Replace),
        2 => Just(Op::Remove),
        1 => prop::sample::select(vec!["dates", "steps", "weights", "correlation", "dividend", "bogus"])
            .prop_map(|k| Op::AddField(k.to_string())),
    ]
}

/// Applies `op` at the node number `at` (modulo the node count) of a pre-order walk.
fn mutate(root: &mut Value, at: usize, op: &Op, value: Value) {
    let mut all = Vec::new();
    pointers(root, "", &mut all);
    if all.is_empty() {
        *root = value;
        return;
    }
    let target = all[at % all.len()].clone();
    match op {
        Op::Replace => {
            if let Some(slot) = root.pointer_mut(&target) {
                *slot = value;
            }
        }
        Op::Remove => {
            let (parent, key) = target.rsplit_once('/').unwrap();
            match root.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
        Op::AddField(name) => match root.pointer_mut(&target) {
            Some(Value::Object(m)) => {
                m.insert(name.clone(), value);
            }
            Some(slot) => *slot = value,
            None => {}
        },
    }
}

fn base_specs() -> Vec<Value> {
    let mut v: Vec<Value> = [LS2001, BASKET, MAX_CALL_5].iter().map(|t| serde_json::from_str(t).unwrap()).collect();
    v.push(spec(&Params {
        paths: 1000,
        spot: 36.0,
        spots: [90.0, 100.0, 110.0],
        vol: 0.2,
        rate: 0.06,
        maturity: 1.0,
        steps: 10,
        strike: 40.0,
    }));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn finite_numbers_give_finite_statistics_or_a_named_field(spec in wild_spec()) {
        match parse_job(&spec.to_string()) {
            Ok(job) => {
                // Every batch kernel checks its own sums: an overflow is an error here.
                let results = price_job_sequential(&job);
                prop_assert!(results.is_ok(), "{spec}\nvalidated but: {}", results.unwrap_err());
                for r in results.unwrap() {
                    prop_assert!(r.is_finite(), "{spec}\nnon-finite result {r:?}");
                }
            }
            Err(e) => {
                for issue in e.issues() {
                    prop_assert!(!issue.path.is_empty(), "{spec}\nan issue names no field: {e}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_specs_validate(p in arb_params()) {
        let text = spec(&p).to_string();
        let job = parse_job(&text);
        prop_assert!(job.is_ok(), "{:?}", job.err().map(|e| e.to_string()));
        let job = job.unwrap();
        prop_assert_eq!(job.outputs.len(), 4);
        prop_assert_eq!(job.instruments[job.outputs[3].main].dates.len(), 3);
    }

    #[test]
    fn invalid_field_is_named(p in arb_params(), b in arb_bad()) {
        let mut v = spec(&p);
        *v.pointer_mut(&b.pointer).expect("pointer into the base spec") = b.value.clone();
        let err = parse_job(&v.to_string()).expect_err("an invalid spec must be refused");
        prop_assert!(err.mentions(&b.path), "{} = {} not named:\n{}", b.path, b.value, err);
        prop_assert!(err.to_string().contains(&b.path));
        // The spec value itself also fails validation the same way.
        let parsed = parse_spec(&v.to_string()).unwrap();
        prop_assert!(parsed.validate().unwrap_err().mentions(&b.path));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        parse_all(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        parse_all(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn json_like_text_never_panics(s in "[\\[\\]{}:,\"0-9.eE+\\- a-z_\\\\]{0,200}") {
        parse_all(&s);
    }

    #[test]
    fn truncated_specs_never_panic(which in 0usize..3, cut in any::<Index>()) {
        let text = [LS2001, BASKET, MAX_CALL_5][which];
        let chars: Vec<char> = text.chars().collect();
        let head: String = chars[..cut.index(chars.len() + 1)].iter().collect();
        parse_all(&head);
    }

    #[test]
    fn mutated_specs_never_panic(
        which in any::<Index>(),
        ops in prop::collection::vec((any::<usize>(), arb_op(), arb_json()), 1..4),
    ) {
        let bases = base_specs();
        let mut v = bases[which.index(bases.len())].clone();
        for (at, op, value) in ops {
            mutate(&mut v, at, &op, value);
        }
        parse_all(&v.to_string());
        parse_all(&serde_json::to_string_pretty(&v).unwrap());
    }
}

#[test]
fn mutation_helpers_work() {
    let mut v = json!({"a": [1, {"b": 2}], "c/d": 3});
    let mut all = Vec::new();
    pointers(&v, "", &mut all);
    assert_eq!(all, ["/a", "/a/0", "/a/1", "/a/1/b", "/c~1d"]);
    mutate(&mut v, 4, &Op::Remove, Value::Null);
    assert_eq!(v, json!({"a": [1, {"b": 2}]}));
    mutate(&mut v, 2, &Op::AddField("z".into()), json!(true));
    assert_eq!(v, json!({"a": [1, {"b": 2, "z": true}]}));
}
