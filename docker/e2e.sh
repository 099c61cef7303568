#!/usr/bin/env bash
# End-to-end test of the docker-compose cluster (called from .ci/run; runnable by hand):
#   1. builds the host binaries, the offline base image and the images (docker/build.sh)
#   2. brings the stack up (S3, bucket, coordinator, 2 nodes, trigger) and waits for health
#   3. uploads an LS2001 spec (fewer paths) and the workshop CSV to inputs/, waits for results/,
#      and checks them against `pathgrid run` on the host (identical `results` / identical CSV)
#   4. submits a small job over gRPC and checks it against the host
#   5. submits a larger job, `docker kill`s a node mid-job: same result as the host
#   6. submits it again, `docker-compose restart coordinator` mid-job: the job resumes, same result
#   6b. submits it again, cuts a node off with `docker network disconnect` mid-job until the
#      coordinator declares it lost, reconnects it: it attaches again, same result
#   7. Batch MNP rehearsal (docker/mnp.yaml): 3 `pathgrid batch` containers price an S3 input
# and tears everything down (also on failure or Ctrl-C). Every check prints PASS or FAIL; the
# last line is `N passed, M failed`, and the exit code is non-zero when M > 0.
#
# Environment: PATHGRID_CACHE, CARGO_TARGET_DIR (respected), PATHGRID_E2E_PORT (coordinator on
# 127.0.0.1, default 50151), PATHGRID_E2E_S3_PORT (default 18114), PATHGRID_E2E_MNP_S3_PORT
# (default 18214), PATHGRID_E2E_KEEP=1 (leave the stacks up for inspection),
# PATHGRID_E2E_TIMEOUT (seconds per wait, default 300).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
project=pathgrid-e2e
mnp_project=pathgrid-e2e-mnp
export PATHGRID_PORT="${PATHGRID_E2E_PORT:-50151}"
export PATHGRID_S3_PORT="${PATHGRID_E2E_S3_PORT:-18114}"
export PATHGRID_MNP_S3_PORT="${PATHGRID_E2E_MNP_S3_PORT:-18214}"
export PATHGRID_S3_ACCESS_KEY="${PATHGRID_S3_ACCESS_KEY:-pathgrid}"
export PATHGRID_S3_SECRET_KEY="${PATHGRID_S3_SECRET_KEY:-pathgrid-secret}"
export PATHGRID_BUCKET=pathgrid
timeout_s="${PATHGRID_E2E_TIMEOUT:-300}"
coord="http://127.0.0.1:$PATHGRID_PORT"
empty_sha=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
work=$(mktemp -d "${TMPDIR:-/tmp}/pathgrid-e2e.XXXXXX")

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
say() { echo "e2e: $*" >&2; }
dc() { docker-compose -f "$here/compose.yaml" -p "$project" "$@"; }
dcm() { docker-compose -f "$here/mnp.yaml" -p "$mnp_project" "$@"; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
    say "logs of the failed run (last 30 lines per service):"
    dc logs --no-color --tail 30 >&2 2>/dev/null || true
    dcm logs --no-color --tail 30 >&2 2>/dev/null || true
  fi
  if [ "${PATHGRID_E2E_KEEP:-0}" = 1 ]; then
    say "PATHGRID_E2E_KEEP=1: leaving $project and $mnp_project up (docker-compose -p ... down -v)"
  else
    say "tearing down"
    dc down -v --remove-orphans >/dev/null 2>&1 || true
    dcm down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

finish() { summary; exit $?; }

# Signed S3 requests with curl (s3s-fs refuses anonymous ones). s3 PORT METHOD PATH [FILE] [OUT]
s3() {
  local port=$1 method=$2 path=$3 file=${4:-} out=${5:-/dev/null} sha=$empty_sha
  local args=(-sS -f -o "$out" --user "$PATHGRID_S3_ACCESS_KEY:$PATHGRID_S3_SECRET_KEY"
              --aws-sigv4 "aws:amz:us-east-1:s3")
  if [ -n "$file" ]; then
    sha=$(sha256sum "$file" | cut -d' ' -f1)
    args+=(-T "$file")
  else
    args+=(-X "$method")
  fi
  curl "${args[@]}" -H "x-amz-content-sha256: $sha" "http://127.0.0.1:$port/$PATHGRID_BUCKET/$path"
}
# Keys under a prefix, one per line.
s3_list() { # PORT PREFIX
  local out="$work/list.xml"
  curl -sS -f -o "$out" --user "$PATHGRID_S3_ACCESS_KEY:$PATHGRID_S3_SECRET_KEY" --aws-sigv4 "aws:amz:us-east-1:s3" \
    -H "x-amz-content-sha256: $empty_sha" \
    "http://127.0.0.1:$1/$PATHGRID_BUCKET?list-type=2&prefix=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$2")" \
    && python3 -c 'import re,sys; print("\n".join(re.findall(r"<Key>([^<]*)</Key>", open(sys.argv[1]).read())))' "$out"
}
# Waits for results/<name>.<ext> (or its .error.json); copies it to OUT. wait_result PORT NAME EXT OUT
wait_result() {
  local port=$1 name=$2 ext=$3 out=$4 deadline=$(( $(date +%s) + timeout_s ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if s3 "$port" GET "results/$name.$ext" "" "$out" 2>/dev/null; then return 0; fi
    if s3 "$port" GET "results/$name.error.json" "" "$out.error" 2>/dev/null; then
      say "results/$name.error.json: $(cat "$out.error")"; return 1
    fi
    sleep 1
  done
  say "no results/$name.$ext after ${timeout_s}s; results/ holds: $(s3_list "$port" results/ | tr '\n' ' ')"
  return 1
}
# Compares the `results` arrays of two JSON result documents. same_results A B
same_results() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
except Exception as e:
    print(f"  cannot read the results: {e}", file=sys.stderr); sys.exit(1)
if a.get("results") == b.get("results") and a.get("results"):
    sys.exit(0)
print(f"  results differ:\n  cluster: {json.dumps(a.get('results'))[:600]}\n  host:    {json.dumps(b.get('results'))[:600]}", file=sys.stderr)
sys.exit(1)
EOF
}
same_csv() {
  python3 - "$1" "$2" <<'EOF'
import csv, sys
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
if a == b and len(a) > 1:
    sys.exit(0)
for i, (x, y) in enumerate(zip(a, b)):
    if x != y:
        print(f"  first difference, row {i}:\n  cluster: {x}\n  host:    {y}", file=sys.stderr); break
else:
    print(f"  rows: cluster {len(a)}, host {len(b)}", file=sys.stderr)
sys.exit(1)
EOF
}
health() { # container -> healthy|starting|unhealthy|exited|...
  docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1" 2>/dev/null || echo missing
}
# Waits until every container of the services is healthy. wait_healthy SECONDS SERVICE...
wait_healthy() {
  local limit=$1; shift
  local deadline=$(( $(date +%s) + limit )) ids status bad
  while :; do
    bad=""
    for svc in "$@"; do
      ids=$(dc ps -q "$svc" 2>/dev/null)
      [ -n "$ids" ] || { bad="$bad $svc:missing"; continue; }
      for id in $ids; do
        status=$(health "$id")
        [ "$status" = healthy ] || bad="$bad $svc($(docker inspect -f '{{.Name}}' "$id" | tr -d /)):$status"
      done
    done
    [ -z "$bad" ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then say "not healthy after ${limit}s:$bad"; return 1; fi
    sleep 1
  done
}
job_field() { # JOB_ID FIELD -> value from `pathgrid jobs --json`
  "$pg" jobs --coordinator "$coord" --json 2>/dev/null | python3 -c '
import json, sys
for j in json.load(sys.stdin):
    if j["job_id"] == sys.argv[1]: print(j.get(sys.argv[2])); break' "$1" "$2"
}
# Waits until the job has done at least FRACTION of its batches; fails if it ended before.
wait_progress() { # JOB_ID FRACTION
  local deadline=$(( $(date +%s) + timeout_s )) phase done total
  while [ "$(date +%s)" -lt "$deadline" ]; do
    read -r phase done total < <("$pg" jobs --coordinator "$coord" --json 2>/dev/null | python3 -c '
import json, sys
for j in json.load(sys.stdin):
    if j["job_id"] == sys.argv[1]: print(j["phase"], j["batches_done"], j["batches_total"]); break
else: print("unknown 0 0")' "$1")
    case "$phase" in succeeded|failed|cancelled) say "job $1 already $phase"; return 1;; esac
    if [ "${total:-0}" -gt 0 ] && python3 -c "import sys; sys.exit(0 if $done >= $2 * $total else 1)"; then
      say "job $1: $phase, $done/$total batches"; return 0
    fi
    sleep 0.5
  done
  say "job $1 made no progress in ${timeout_s}s"; return 1
}
has_cmd() { "$pg" "$1" --help >/dev/null 2>&1; }
need_cmd() { # SUBCOMMAND CHECK-NAME -> fails the check when the subcommand is missing
  if has_cmd "$1"; then return 0; fi
  fail "$2: skipped, \`pathgrid $1\` does not exist in this build"
  return 1
}

# ---------------------------------------------------------------- preflight
for tool in docker docker-compose python3 curl cargo; do
  command -v "$tool" >/dev/null || { fail "preflight: $tool not found"; finish; }
done
docker info >/dev/null 2>&1 || { fail "preflight: the Docker engine does not answer"; finish; }

# ---------------------------------------------------------------- 1. build
t=$(now)
if "$here/build.sh"; then
  pass "build: host binaries, base image and images in $(since "$t") s"
else
  fail "build: docker/build.sh failed (see above)"; finish
fi
target_dir=$(cd "$repo" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])') \
  || target_dir="${CARGO_TARGET_DIR:-$repo/target}"
pg="$target_dir/release/pathgrid"
for c in coordinator node submit watch jobs nodes trigger-watch batch; do
  has_cmd "$c" || say "note: this build of pathgrid has no \`$c\` subcommand; the steps that need it will FAIL"
done

# ---------------------------------------------------------------- 2. stack up
dc down -v --remove-orphans >/dev/null 2>&1 || true
t=$(now)
if ! dc up -d --scale node=2 >"$work/up.log" 2>&1; then
  cat "$work/up.log" >&2
  fail "stack: docker-compose up failed"
fi
if wait_healthy 120 s3 coordinator node; then
  start_s=$(since "$t")
  pass "stack: s3, coordinator and 2 nodes healthy in $start_s s (coordinator on 127.0.0.1:$PATHGRID_PORT)"
else
  fail "stack: not healthy within 120 s"; finish
fi
bucket_id=$(dc ps -q bucket)
if [ -n "$bucket_id" ] && [ "$(docker wait "$bucket_id")" = 0 ]; then
  pass "stack: bucket '$PATHGRID_BUCKET' created"
else
  fail "stack: bucket creation failed: $(dc logs --no-color bucket 2>&1 | tail -3)"
fi

# ---------------------------------------------------------------- 3. S3 upload -> trigger -> results/
python3 - "$repo/examples/ls2001-put.json" "$work/ls2001-put.json" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec.update(paths=50000, training_paths=25000)   # fewer paths: seconds, not minutes
json.dump(spec, open(sys.argv[2], "w"), indent=1)
EOF
cp "$repo/examples/workshop-portfolio.csv" "$work/workshop-portfolio.csv"
if need_cmd trigger-watch "trigger (S3 upload -> results/)"; then
  trig=$(dc ps -q trigger)
  if [ -z "$trig" ] || [ "$(docker inspect -f '{{.State.Running}}' "$trig" 2>/dev/null)" != true ]; then
    say "trigger container is not running: $(dc logs --no-color --tail 5 trigger 2>&1)"
  fi
  if s3 "$PATHGRID_S3_PORT" PUT inputs/ls2001-put.json "$work/ls2001-put.json" \
     && s3 "$PATHGRID_S3_PORT" PUT inputs/workshop-portfolio.csv "$work/workshop-portfolio.csv"; then
    pass "trigger: uploaded inputs/ls2001-put.json and inputs/workshop-portfolio.csv (signed curl PUT)"
    t=$(now)
    "$pg" run "$work/ls2001-put.json" --json --quiet >"$work/host-ls.json" 2>"$work/host-ls.err" \
      || say "host run failed: $(tail -3 "$work/host-ls.err")"
    "$pg" run "$work/workshop-portfolio.csv" --quiet --output "$work/host-portfolio.csv" >/dev/null 2>"$work/host-csv.err" \
      || say "host run failed: $(tail -3 "$work/host-csv.err")"
    if wait_result "$PATHGRID_S3_PORT" ls2001-put json "$work/s3-ls.json" \
       && same_results "$work/s3-ls.json" "$work/host-ls.json"; then
      pass "trigger: results/ls2001-put.json identical to host \`pathgrid run --json\` ($(since "$t") s)"
    else
      fail "trigger: results/ls2001-put.json missing or different from the host run"
    fi
    if wait_result "$PATHGRID_S3_PORT" workshop-portfolio csv "$work/s3-portfolio.csv" \
       && same_csv "$work/s3-portfolio.csv" "$work/host-portfolio.csv"; then
      pass "trigger: results/workshop-portfolio.csv identical to host \`pathgrid run --output\`"
    else
      fail "trigger: results/workshop-portfolio.csv missing or different from the host run"
    fi
  else
    fail "trigger: upload to s3://$PATHGRID_BUCKET/inputs/ failed"
  fi
fi

# ---------------------------------------------------------------- 4. gRPC submit (small)
if need_cmd submit "submit (small job over gRPC)"; then
  [ -s "$work/host-ls.json" ] || "$pg" run "$work/ls2001-put.json" --json --quiet >"$work/host-ls.json" 2>/dev/null
  if timeout "$timeout_s" "$pg" submit "$work/ls2001-put.json" --coordinator "$coord" --watch --json --quiet \
       >"$work/grpc-ls.json" 2>"$work/grpc-ls.err" \
     && same_results "$work/grpc-ls.json" "$work/host-ls.json"; then
    pass "submit: small job over gRPC on 2 node containers identical to the host run"
  else
    fail "submit: small job failed or differs: $(tail -3 "$work/grpc-ls.err")"
  fi
fi

# ---------------------------------------------------------------- 5. node kill mid-job
# A job of ~1e9 path-steps: long enough (tens of seconds on 2 cores) to kill a node in the middle.
python3 - "$repo/examples/ls2001-put.json" "$work/large.json" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec.update(name="e2e-large", paths=4_000_000, training_paths=1_000_000)
spec["instruments"][0]["exercise"]["steps"] = 200
json.dump(spec, open(sys.argv[2], "w"), indent=1)
EOF
# Submits the large job in the background, watching it into $work/<name>.json (log in
# <name>.err); sets submit_pid, and job to the job id once the submit prints it.
submit_large() {
  timeout "$timeout_s" "$pg" submit "$work/large.json" --coordinator "$coord" --watch --json --quiet \
    >"$work/$1.json" 2>"$work/$1.err" &
  submit_pid=$!
  job=""
  for _ in $(seq 60); do
    job=$(grep -o 'e2e-large-[^ ]*' "$work/$1.err" | head -1) && [ -n "$job" ] && break
    sleep 0.5
  done
}
host_large() {
  if [ ! -s "$work/host-large.json" ]; then
    local t; t=$(now)
    "$pg" run "$work/large.json" --json --quiet >"$work/host-large.json" 2>"$work/host-large.err" \
      || { say "host run of the large job failed: $(tail -3 "$work/host-large.err")"; return 1; }
    say "host \`pathgrid run\` of the large job: $(since "$t") s"
  fi
}
if need_cmd submit "node kill" && need_cmd jobs "node kill" && host_large; then
  t=$(now)
  submit_large kill
  if [ -n "$job" ] && wait_progress "$job" 0.15; then
    victim=$(dc ps -q node | head -1)
    docker kill "$victim" >/dev/null && say "killed node container $(docker inspect -f '{{.Name}}' "$victim" | tr -d /) mid-job"
    if ! kill -0 "$submit_pid" 2>/dev/null; then say "the job ended before the kill landed"; fi
    if wait "$submit_pid" && same_results "$work/kill.json" "$work/host-large.json"; then
      pass "node kill: job $job finished after a node was killed, identical to the host run ($(since "$t") s)"
    else
      fail "node kill: job failed or differs from the host run: $(tail -3 "$work/kill.err")"
    fi
  else
    kill "$submit_pid" 2>/dev/null; wait "$submit_pid" 2>/dev/null
    fail "node kill: could not catch the job mid-run: $(tail -3 "$work/kill.err")"
  fi
  dc up -d --scale node=2 >/dev/null 2>&1   # bring the killed node back
  wait_healthy 120 coordinator node || say "nodes not all healthy again after the kill"
fi

# ---------------------------------------------------------------- 6. coordinator restart mid-job
if need_cmd submit "coordinator restart" && need_cmd watch "coordinator restart" && host_large; then
  t=$(now)
  job=$("$pg" submit "$work/large.json" --coordinator "$coord" 2>"$work/restart.err")
  if [ -n "$job" ] && wait_progress "$job" 0.3; then
    before=$(job_field "$job" batches_done)
    rt=$(now)
    dc restart coordinator >/dev/null 2>&1
    if wait_healthy 120 coordinator; then
      say "coordinator restarted and healthy in $(since "$rt") s (job was at $before batches)"
    fi
    if timeout "$timeout_s" "$pg" watch "$job" --coordinator "$coord" --json --quiet \
         >"$work/restart.json" 2>>"$work/restart.err" \
       && same_results "$work/restart.json" "$work/host-large.json"; then
      resumed=$(dc logs --no-color coordinator 2>&1 | grep -ci 'resum' || true)
      pass "coordinator restart: job $job resumed and finished, identical to the host run ($(since "$t") s; 'resum' log lines: $resumed)"
    else
      fail "coordinator restart: job did not finish or differs: $(tail -3 "$work/restart.err")"
    fi
  else
    fail "coordinator restart: could not catch the job mid-run: $(tail -3 "$work/restart.err")"
  fi
fi

# ---------------------------------------------------------------- 6b. node cut off from the network
node_names() { "$pg" nodes --coordinator "$coord" --json 2>/dev/null | python3 -c '
import json, sys
print(" ".join(n["name"] for n in json.load(sys.stdin)))'; }
# Waits until a node whose name starts with PREFIX is listed (want=yes) or not (want=no).
wait_node() { # PREFIX yes|no
  local deadline=$(( $(date +%s) + timeout_s )) listed
  while [ "$(date +%s)" -lt "$deadline" ]; do
    listed=no
    for n in $(node_names); do case "$n" in "$1"*) listed=yes;; esac; done
    [ "$listed" = "$2" ] && return 0
    sleep 0.5
  done
  say "node $1 listed=$listed after ${timeout_s}s (wanted $2): $(node_names)"; return 1
}
if need_cmd submit "network disconnect" && need_cmd nodes "network disconnect" && host_large; then
  wait_healthy 120 coordinator node || say "nodes not all healthy before the disconnect"
  t=$(now)
  submit_large cut
  cut=$(dc ps -q node | head -1)
  # The node's default name starts with its host name: the container id's first 12 characters.
  cut_host=${cut:0:12}
  net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$cut" 2>/dev/null)
  if [ -n "$job" ] && [ -n "$net" ] && wait_progress "$job" 0.15 \
     && docker network disconnect "$net" "$cut" >/dev/null; then
    say "disconnected node $cut_host from $net mid-job"
    lost=no; back=no
    wait_node "$cut_host" no && lost=yes
    docker network connect "$net" "$cut" >/dev/null || say "docker network connect failed"
    wait_node "$cut_host" yes && back=yes
    if wait "$submit_pid" && same_results "$work/cut.json" "$work/host-large.json" \
       && [ "$lost" = yes ] && [ "$back" = yes ]; then
      pass "network disconnect: node declared lost, reattached after reconnecting, job $job identical to the host run ($(since "$t") s)"
    else
      fail "network disconnect: lost=$lost reattached=$back; job failed or differs: $(tail -3 "$work/cut.err")"
    fi
  else
    kill "$submit_pid" 2>/dev/null; wait "$submit_pid" 2>/dev/null
    fail "network disconnect: could not cut the node off mid-job (network '$net'): $(tail -3 "$work/cut.err")"
  fi
fi

# ---------------------------------------------------------------- 7. Batch MNP rehearsal
if need_cmd batch "MNP rehearsal (pathgrid batch on 3 containers)"; then
  export PATHGRID_MNP_SPEC="$work/ls2001-put.json" PATHGRID_MNP_KEY=mnp-rehearsal.json
  # The nodes' shared token; on Batch it comes from the job definition's Secrets Manager secret.
  PATHGRID_MNP_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  export PATHGRID_MNP_TOKEN
  [ -s "$work/host-ls.json" ] || "$pg" run "$work/ls2001-put.json" --json --quiet >"$work/host-ls.json" 2>/dev/null
  # The rehearsal pins its own subnet (fixed node addresses, as on Batch); the main stack's
  # network comes from Docker's address pools and may have been given an overlapping range.
  # The main stack's checks are done, so take it down first.
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  dcm down -v --remove-orphans >/dev/null 2>&1 || true
  t=$(now)
  if dcm up -d >"$work/mnp-up.log" 2>&1; then
    main=$(dcm ps -q main)
    code=$(timeout "$timeout_s" docker wait "$main" 2>/dev/null || echo timeout)
    if [ "$code" = 0 ]; then
      pass "mnp: main node (index 0 of 3) exited 0 in $(since "$t") s"
    else
      fail "mnp: main node exit: $code; $(dcm logs --no-color --tail 5 main 2>&1)"
    fi
    for child in child1 child2; do
      cid=$(dcm ps -q $child)
      ccode=$(timeout 60 docker wait "$cid" 2>/dev/null || echo "still running after 60 s")
      if [ "$ccode" = 0 ]; then pass "mnp: $child exited 0"; else fail "mnp: $child exit: $ccode"; fi
    done
    if dcm logs --no-color child1 child2 main 2>&1 | grep -qi 'attached'; then
      say "mnp: coordinator logs show attached nodes"
    fi
    if wait_result "$PATHGRID_MNP_S3_PORT" mnp-rehearsal json "$work/mnp.json" \
       && same_results "$work/mnp.json" "$work/host-ls.json"; then
      nodes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"].get("nodes"))' "$work/mnp.json")
      pass "mnp: results/mnp-rehearsal.json identical to the host run (stats.nodes = $nodes)"
    else
      fail "mnp: no identical result in s3://$PATHGRID_BUCKET/results/"
    fi
  else
    cat "$work/mnp-up.log" >&2
    fail "mnp: docker-compose up failed"
  fi
fi

finish
