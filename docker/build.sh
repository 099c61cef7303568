#!/usr/bin/env bash
# Builds everything the compose stack needs, without pulling an image or compiling in Docker:
#   1. `pathgrid` on the host (cargo build --release -p pathgrid-cli; CARGO_TARGET_DIR respected)
#   2. `s3s-fs` on the host (cargo install s3s-fs@0.14.1 into $PATHGRID_CACHE/tools, once)
#   3. the offline base image pathgrid-base:bookworm (docker/base-image.sh, cached by tag)
#   4. the images pathgrid:local and pathgrid-s3:local from docker/context
#
# Environment: PATHGRID_CACHE (default ~/.cache/pathgrid); BASE to build on another base image
# (e.g. BASE=debian:bookworm-slim where images can be pulled; then step 3 is skipped);
# PATHGRID_SKIP_CARGO=1 to use the binary already in the target dir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cache="${PATHGRID_CACHE:-$HOME/.cache/pathgrid}"
base="${BASE:-pathgrid-base:bookworm}"
log() { echo "build: $*" >&2; }
die() { echo "build: error: $*" >&2; exit 1; }
t0=$(date +%s)

cd "$repo"
if [ "${PATHGRID_SKIP_CARGO:-0}" != 1 ]; then
  log "cargo build --release -p pathgrid-cli"
  cargo build --release -p pathgrid-cli || die "cargo build failed"
fi
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])') \
  || target_dir="${CARGO_TARGET_DIR:-$repo/target}"
bin="$target_dir/release/pathgrid"
[ -x "$bin" ] || die "$bin not found (build with cargo build --release -p pathgrid-cli)"

s3s="$cache/tools/bin/s3s-fs"
if [ ! -x "$s3s" ]; then
  log "cargo install s3s-fs@0.14.1 --features binary --locked --root $cache/tools (a few minutes, once)"
  cargo install s3s-fs@0.14.1 --features binary --locked --root "$cache/tools" || die "cargo install s3s-fs failed"
fi

# Stage the build context: just the two binaries, without debug info.
mkdir -p "$here/context/bin"
stage() {
  if command -v strip >/dev/null 2>&1; then strip -o "$2.tmp" "$1"; else cp "$1" "$2.tmp"; fi
  mv "$2.tmp" "$2"
}
stage "$bin" "$here/context/bin/pathgrid"
stage "$s3s" "$here/context/bin/s3s-fs"

if [ "$base" = "pathgrid-base:bookworm" ]; then
  "$here/base-image.sh"
fi

log "docker build pathgrid:local and pathgrid-s3:local on $base"
build_image() { # TAG DOCKERFILE
  local out; out=$(mktemp)
  if ! docker build --build-arg BASE="$base" -f "$2" -t "$1" "$here/context" >"$out" 2>&1; then
    cat "$out" >&2; rm -f "$out"; die "docker build of $1 failed"
  fi
  rm -f "$out"
}
build_image pathgrid:local "$here/Dockerfile"
build_image pathgrid-s3:local "$here/s3.Dockerfile"
# Drop the previous builds these tags replaced (dangling images of ours only).
docker image prune -f --filter dangling=true --filter label=org.pathgrid.image >/dev/null 2>&1 || true
for img in "$base" pathgrid:local pathgrid-s3:local; do
  log "$(docker image inspect -f '{{.Size}}' "$img" | awk -v i="$img" '{printf "%-24s %4.0f MB", i, $1/1e6}')"
done
log "done in $(( $(date +%s) - t0 )) s"
