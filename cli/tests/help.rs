//! The binary explains itself. (This test also makes `cargo test` build the binary that
//! the cross-crate tests in `tests/` drive.)

use std::process::Command;

#[test]
fn help_lists_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_pathgrid")).arg("--help").output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("pathgrid did not start: {e}"),
    };
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "validate"] {
        assert!(text.contains(cmd), "--help does not mention {cmd}: {text}");
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_pathgrid")).args(["run", "--no-such-flag", "x.json"]).output();
    let Ok(out) = out else { panic!("pathgrid did not start") };
    assert_eq!(out.status.code(), Some(2));
}
