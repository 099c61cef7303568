//! Results are a contract: the same spec and seed give the same bits at every SIMD level
//! this CPU has (scalar, AVX2, AVX-512), so a fleet of mixed instance types agrees. Each job
//! below is priced at every available level and the results compared bit for bit (their
//! JSON, which round-trips every f64 exactly).

use pathgrid_pricing::simd::{self, Level};
use pathgrid_pricing::{parse_job, price_job_sequential};

const JOBS: [(&str, &str); 4] = [
    (
        "american put with dual bound",
        r#"{"name":"put","seed":3,"paths":6000,"training_paths":3000,"batch_size":2048,
           "instruments":[{"id":"put","model":{"type":"gbm","spot":36,"vol":0.2,"rate":0.06},
           "payoff":{"type":"put","strike":40},"exercise":{"style":"american","maturity":1}}]}"#,
    ),
    (
        "bermudan call with dividends, odd batch",
        r#"{"name":"call","seed":5,"paths":3001,"training_paths":1501,"batch_size":1000,
           "instruments":[{"id":"call","model":{"type":"gbm","spot":100,"vol":0.3,"rate":0.05,"dividend":0.07},
           "payoff":{"type":"call","strike":95},"exercise":{"style":"bermudan","maturity":0.5,"steps":7}}]}"#,
    ),
    (
        "correlated max-call on 3 assets",
        r#"{"name":"max","seed":7,"paths":4000,"training_paths":2000,"batch_size":1024,
           "instruments":[{"id":"max","model":{"type":"gbm","spot":[100,100,100],"vol":[0.2,0.25,0.3],
           "rate":0.05,"dividend":0.1,"correlation":[[1,0.3,0.1],[0.3,1,0.2],[0.1,0.2,1]]},
           "payoff":{"type":"max_call","strike":100},"exercise":{"style":"bermudan","maturity":3,"steps":9}}]}"#,
    ),
    (
        "european without antithetics",
        r#"{"name":"eu","seed":9,"paths":5000,"antithetic":false,
           "instruments":[{"id":"eu","model":{"type":"gbm","spot":50,"vol":0.4,"rate":0.02},
           "payoff":{"type":"put","strike":55},"exercise":{"style":"european","maturity":2}}]}"#,
    ),
];

#[test]
fn every_level_gives_the_same_bits() {
    let levels = Level::available();
    eprintln!("levels on this CPU: {:?}", levels);
    for (name, spec) in JOBS {
        let job = match parse_job(spec) {
            Ok(job) => job,
            Err(e) => panic!("{name}: spec invalid: {e}"),
        };
        let results: Vec<String> = levels
            .iter()
            .map(|&level| {
                let r = simd::with_level(level, || price_job_sequential(&job));
                match r.map(|r| serde_json::to_string(&r)) {
                    Ok(Ok(json)) => json,
                    other => panic!("{name} at {}: {other:?}", level.name()),
                }
            })
            .collect();
        for (level, json) in levels.iter().zip(&results).skip(1) {
            assert_eq!(json, &results[0], "{name}: {} differs from scalar", level.name());
        }
    }
}
