#!/usr/bin/env bash
# Runs the libFuzzer campaign of fuzz/ (docs/HARDENING.md, "Fuzzing"). See --help.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: scripts/fuzz.sh [TARGET...]

Builds the fuzz targets of fuzz/ with cargo-fuzz and runs each for FUZZ_SECS seconds
(default 60), all of them or the TARGETs named. Exits non-zero if any target crashed
(panic, failed assertion, timeout or out of memory) and prints the reproducer's path.

  FUZZ_SECS=600 scripts/fuzz.sh spec_json    a longer run of one target
  scripts/fuzz.sh --list                     the targets

Seeds are read from fuzz/corpus/<target>/ and never written: new inputs go to
$PATHGRID_CACHE/fuzz-corpus/<target>/ (default ~/.cache/pathgrid), which later runs start
from, and crashes to a temporary directory. cargo-fuzz 0.13 is installed into
$PATHGRID_CACHE/tools when missing; the build goes to $PATHGRID_CACHE/fuzz-target.

Reproduce a crash:  <that directory>/<target> <crash file>   (the binary the run printed)
Keep a reproducer:  copy it into fuzz/corpus/<target>/ with a test in the owning crate.
EOF
}

cache="${PATHGRID_CACHE:-$HOME/.cache/pathgrid}"
secs="${FUZZ_SECS:-60}"
cargo_fuzz_version=0.13.2
mapfile -t all_targets < <(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^pathgrid-fuzz$')

targets=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
    -*) echo "fuzz: unknown option $arg" >&2; usage >&2; exit 2 ;;
    *)
      if ! printf '%s\n' "${all_targets[@]}" | grep -qx "$arg"; then
        echo "fuzz: no target $arg (targets: ${all_targets[*]})" >&2
        exit 2
      fi
      targets+=("$arg")
      ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
case "$secs" in ''|*[!0-9]*) echo "fuzz: FUZZ_SECS must be a whole number of seconds" >&2; exit 2 ;; esac

# libfuzzer-sys compiles libFuzzer itself: it needs a C++ compiler (setup.sh installs g++).
scripts/setup.sh

tools="$cache/tools"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version into $tools" >&2
  cargo install "cargo-fuzz@$cargo_fuzz_version" --locked --root "$tools" -q --force
fi
export PATH="$tools/bin:$PATH"
export CARGO_TARGET_DIR="$cache/fuzz-target"
# cargo-fuzz passes unstable flags; the toolchain is stable, and no nightly can be fetched.
export RUSTC_BOOTSTRAP=1

# Release code with debug assertions and overflow checks, so that an overflow is a finding.
# No sanitizer: the workspace forbids unsafe code, and AddressSanitizer would double the build.
build_flags=(--release --debug-assertions --sanitizer none)
echo "== fuzz: building ${#targets[@]} target(s)"
if [ ${#targets[@]} -eq ${#all_targets[@]} ]; then
  cargo fuzz build "${build_flags[@]}"
else
  for t in "${targets[@]}"; do cargo fuzz build "${build_flags[@]}" "$t"; done
fi
bin_dir="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"

artifacts="$(mktemp -d "${TMPDIR:-/tmp}/pathgrid-fuzz.XXXXXX")"
echo "== fuzz: ${secs} s per target on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); logs and crashes in $artifacts"
failed=()
summary=()
for t in "${targets[@]}"; do
  scratch="$cache/fuzz-corpus/$t"
  mkdir -p "$scratch" "$artifacts/$t"
  log="$artifacts/$t.log"
  # A dictionary of the format's tokens (keys, odd numbers), where the target has one.
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  # The scratch corpus comes first: libFuzzer writes new inputs into its first directory only.
  set +e
  "$bin_dir/$t" "$scratch" "fuzz/corpus/$t" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t/" "${dict[@]}" >"$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  if [ $rc -eq 0 ]; then
    summary+=("$(printf '%-20s %12s executions  ok' "$t" "${execs:-?}")")
  else
    failed+=("$t")
    summary+=("$(printf '%-20s %12s executions  FAILED (exit %d)' "$t" "${execs:-?}" "$rc")")
    echo "== fuzz: $t failed; the end of its log ($log):" >&2
    tail -n 40 "$log" >&2
    for crash in "$artifacts/$t"/*; do
      [ -e "$crash" ] || continue
      echo "fuzz: reproducer: $crash" >&2
      echo "fuzz: reproduce with: $bin_dir/$t $crash" >&2
    done
  fi
done

echo "== fuzz: results (${secs} s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
