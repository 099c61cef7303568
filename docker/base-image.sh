#!/usr/bin/env bash
# Builds the offline base image `pathgrid-base:bookworm` without pulling anything:
# debootstrap a minimal Debian bookworm (with CA certificates and curl)
# into a folder and `docker import` it.
#
#   docker/base-image.sh            # build unless the tag exists (cache by tag)
#   docker/base-image.sh --force    # rebuild even if the tag exists
#
# Environment:
#   PATHGRID_CACHE          cache dir (default ~/.cache/pathgrid); the root filesystem tarball is
#                           kept there, so a fresh Docker engine re-imports it without debootstrap
#   PATHGRID_BASE_TAG       image tag (default pathgrid-base:bookworm)
#   PATHGRID_DEBIAN_MIRROR  Debian mirror (default: the first bookworm mirror in the apt sources)
#
# On AWS or any machine that can pull images this script is not needed: the Dockerfile defaults
# to BASE=debian:bookworm-slim.
set -euo pipefail

tag="${PATHGRID_BASE_TAG:-pathgrid-base:bookworm}"
suite=bookworm
include="ca-certificates,curl"
cache="${PATHGRID_CACHE:-$HOME/.cache/pathgrid}"
force=0
[ "${1:-}" = "--force" ] && force=1

die() { echo "base-image: error: $*" >&2; exit 1; }
log() { echo "base-image: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v docker >/dev/null || die "docker not found"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (is it running, may this user use it?)"

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag exists ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')), skipping (--force rebuilds)"
  exit 0
fi

start=$(date +%s)
mkdir -p "$cache/base"
# The tarball name carries what went into it, so changing the package list rebuilds.
key=$(printf '%s|%s|%s' "$suite" "$include" "$(uname -m)" | sha256sum | cut -c1-12)
tarball="$cache/base/$suite-minbase-$key.tar"

if [ "$force" = 1 ] || [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || die "debootstrap not found (scripts/setup.sh --tests installs it; or: apt-get install debootstrap)"

  mirror="${PATHGRID_DEBIAN_MIRROR:-}"
  if [ -z "$mirror" ]; then
    # deb822 (*.sources): a stanza whose Suites has bookworm; one-line (*.list): "deb URI bookworm ...".
    mirror=$(
      {
        for f in /etc/apt/sources.list.d/*.sources; do
          [ -f "$f" ] || continue
          awk 'BEGIN{RS=""; FS="\n"}
               { uri=""; ok=0
                 for (i=1;i<=NF;i++) {
                   if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uri=u[1] }
                   if ($i ~ /^Suites:/ && $i ~ /(^|[ \t])bookworm([ \t]|$)/) ok=1
                 }
                 if (ok && uri != "") print uri }' "$f"
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
          [ -f "$f" ] || continue
          awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
                           if ($(i+1)=="bookworm") print $i }' "$f"
        done
      } | grep -v -- '-security' | head -n1
    ) || true
    mirror="${mirror:-http://deb.debian.org/debian}"
  fi

  keyring=()
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)

  rootfs=$(mktemp -d "$cache/base/rootfs.XXXXXX")
  # Removes the half-made root filesystem whatever happens (it is root-owned).
  trap 'as_root rm -rf "$rootfs"' EXIT
  log "debootstrap --variant=minbase --include=$include $suite from $mirror"
  if ! as_root debootstrap --variant=minbase --include="$include" "${keyring[@]}" \
        "$suite" "$rootfs" "$mirror" > "$cache/base/debootstrap.log" 2>&1; then
    tail -n 20 "$cache/base/debootstrap.log" >&2
    die "debootstrap failed (full log: $cache/base/debootstrap.log); set PATHGRID_DEBIAN_MIRROR to another mirror?"
  fi
  log "debootstrap done in $(( $(date +%s) - start )) s"

  # Slim down: package caches and lists, docs, man pages, locales (none needed at run time).
  as_root sh -c "cd '$rootfs' && rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* \
      usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/locale/* var/log/* tmp/* \
      && printf 'deb %s %s main\n' '$mirror' '$suite' > etc/apt/sources.list"
  as_root tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  as_root chown "$(id -u):$(id -g)" "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
  as_root rm -rf "$rootfs"
  trap - EXIT
else
  log "re-importing cached root filesystem $tarball"
fi

docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  -m "debootstrap --variant=minbase --include=$include $suite" \
  "$tarball" "$tag" >/dev/null || die "docker import failed"

size=$(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')
log "built $tag ($size) in $(( $(date +%s) - start )) s"
