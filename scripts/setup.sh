#!/usr/bin/env bash
# Installs what pathgrid needs on a Debian machine, and nothing twice: every step checks
# first, so a second run takes a moment.
#   scripts/setup.sh           what the build needs (C and C++ compilers, pkg-config for -sys crates)
#   scripts/setup.sh --tests   that, plus the tests' servers and tools (moto, cfn-lint, grpcio,
#                              debootstrap, s3s-fs)
set -euo pipefail

tests=false
case "${1:-}" in
  --tests) tests=true ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--tests]" >&2; exit 2 ;;
esac

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# System packages for crates that build C code, and g++ for libFuzzer (scripts/fuzz.sh). No
# numerical library: the regression solves are plain Rust, so that results do not depend on the
# CPU's BLAS kernels.
packages=(gcc g++ pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! $tests; then
  exit 0
fi

# AWS emulation for the tests in tests/tests/aws_*.rs: moto (S3 and Batch) and cfn-lint (PyPI).
if ! python3 -c "import moto.server, flask_cors" >/dev/null 2>&1; then
  echo "setup: installing moto[server]" >&2
  python3 -m pip install -q "moto[server]"
fi
# A non-Rust gRPC client for tests/tests/grpc_surface.rs (health checks and server reflection).
if ! python3 -c "import grpc, grpc_health.v1.health_pb2, grpc_reflection.v1alpha.proto_reflection_descriptor_database" >/dev/null 2>&1; then
  echo "setup: installing grpcio, grpcio-health-checking, grpcio-reflection" >&2
  python3 -m pip install -q grpcio grpcio-health-checking grpcio-reflection
fi
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "setup: installing cfn-lint" >&2
  python3 -m pip install -q cfn-lint
fi

# Offline Docker base image for docker/ (docker/base-image.sh debootstraps a minimal Debian).
if command -v docker >/dev/null 2>&1 && ! command -v debootstrap >/dev/null 2>&1; then
  echo "setup: installing debootstrap" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# S3 server for the docker/ cluster e2e (built on the host, copied into an image).
s3s_root="${PATHGRID_CACHE:-$HOME/.cache/pathgrid}/tools"
if command -v docker >/dev/null 2>&1 && [ ! -x "$s3s_root/bin/s3s-fs" ]; then
  echo "setup: installing s3s-fs 0.14.1 into $s3s_root" >&2
  cargo install s3s-fs@0.14.1 --features binary --locked --root "$s3s_root" -q
fi

# The real Lambda runtime loop for tests/tests/aws_cargo_lambda.rs: cargo-lambda (PyPI wheel).
if ! cargo lambda --version >/dev/null 2>&1; then
  echo "setup: installing cargo-lambda" >&2
  python3 -m pip install -q cargo-lambda
fi
