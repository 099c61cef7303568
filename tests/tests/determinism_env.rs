#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Same spec and seed → the same bits whatever the machine says about its CPU.
//!
//! Some machines set `OPENBLAS_CORETYPE` (and `OPENBLAS_L2_SIZE`); containers do not inherit
//! them. Nothing that feeds a result may change with them, nor with any other runtime kernel
//! choice: the regression solve is plain Rust (`pricing::linalg`), and so are the elementary
//! functions (`libm`, `pricing::fastmath`). The kernels' own vector width
//! (`PATHGRID_SIMD`, capped per process) must not change a bit either.

use pathgrid_tests::{pathgrid_bin, workspace_root};
use std::process::Command;

/// The kernel choices that gave different regression coefficients when the solve went through
/// OpenBLAS, and the unset variable that a container sees.
const CORE_TYPES: [Option<&str>; 5] = [None, Some("Haswell"), Some("SkylakeX"), Some("Zen"), Some("Prescott")];

fn results_under(spec: &str, core_type: Option<&str>) -> String {
    results_with(spec, core_type.map(|ct| ("OPENBLAS_CORETYPE", ct)))
}

fn results_with(spec: &str, var: Option<(&str, &str)>) -> String {
    let mut cmd = Command::new(pathgrid_bin());
    cmd.args(["run", spec, "--json", "--quiet"]).current_dir(workspace_root());
    cmd.env_remove("OPENBLAS_CORETYPE").env_remove("OPENBLAS_L2_SIZE").env_remove("PATHGRID_SIMD");
    if let Some((name, value)) = var {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("pathgrid runs");
    assert!(out.status.success(), "{spec} under {var:?}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    // Compare the exact decimal text serde_json writes (shortest round-trip form: equal text
    // is equal bits).
    serde_json::to_string(&v["results"]).unwrap()
}

#[test]
fn results_do_not_depend_on_openblas_coretype() {
    for spec in ["examples/ls2001-put.json", "examples/max-call-2.json"] {
        let reference = results_under(spec, CORE_TYPES[0]);
        for ct in &CORE_TYPES[1..] {
            assert_eq!(results_under(spec, *ct), reference, "{spec}: results differ under OPENBLAS_CORETYPE={ct:?}");
        }
    }
}

/// Every vector width the kernels can run at on this CPU (a level the CPU lacks falls back to
/// the best below it, so on an older CPU some runs repeat a level) against the default.
#[test]
fn results_do_not_depend_on_the_simd_level() {
    for spec in ["examples/ls2001-put.json", "examples/basket-put.json"] {
        let reference = results_with(spec, None);
        for level in ["scalar", "avx2", "avx512"] {
            assert_eq!(
                results_with(spec, Some(("PATHGRID_SIMD", level))),
                reference,
                "{spec}: results differ under PATHGRID_SIMD={level}"
            );
        }
    }
}
