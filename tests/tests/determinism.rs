#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Same spec and seed → bit-identical results, whatever the number of threads.

use pathgrid_tests::{job_spec, price, vanilla};
use serde_json::json;

#[test]
fn results_are_bit_identical_across_thread_counts() {
    let spec = job_spec(
        "determinism",
        99,
        40_000,
        20_000,
        vec![
            vanilla("put", "put", 36.0, 40.0, 0.2, 0.06, 0.0, "american", 1.0, 50),
            json!({
                "id": "basket",
                "model": {"type": "gbm", "spot": [100.0, 95.0, 105.0], "vol": [0.2, 0.25, 0.3], "rate": 0.03,
                          "correlation": [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]},
                "payoff": {"type": "basket_put", "strike": 100.0},
                "exercise": {"style": "bermudan", "maturity": 1.0, "dates": [0.25, 0.5, 0.75]}
            }),
        ],
    );
    // Small batches so that 7 threads really split the work unevenly.
    let mut spec = spec;
    spec.batch_size = Some(2048);
    let one = serde_json::to_string(&price(&spec, 1)).unwrap();
    let two = serde_json::to_string(&price(&spec, 2)).unwrap();
    let seven = serde_json::to_string(&price(&spec, 7)).unwrap();
    assert_eq!(one, two);
    assert_eq!(one, seven);
    let other_seed = {
        let mut s = spec.clone();
        s.seed = 100;
        serde_json::to_string(&price(&s, 2)).unwrap()
    };
    assert_ne!(one, other_seed, "a different seed must give different paths");
}
