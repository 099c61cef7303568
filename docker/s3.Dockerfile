# A local S3 server for the compose stack: s3s-fs (crates.io, a file-backed S3 server),
# built on the host by `cargo install s3s-fs@0.14.1 --features binary --locked` and copied in.
#   docker build --build-arg BASE=pathgrid-base:bookworm -f docker/s3.Dockerfile -t pathgrid-s3:local docker/context
ARG BASE=debian:bookworm-slim
FROM ${BASE}
LABEL org.opencontainers.image.title="pathgrid-s3" org.pathgrid.image="pathgrid-s3"

RUN set -e; \
    if ! command -v curl >/dev/null 2>&1; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi; \
    id s3 >/dev/null 2>&1 || useradd --system --user-group --home-dir /srv/s3 --no-create-home s3; \
    mkdir -p /srv/s3 && chown s3:s3 /srv/s3

COPY bin/s3s-fs /usr/local/bin/s3s-fs

USER s3
EXPOSE 8014
# Credentials come from the environment (compose sets them); any S3 client signing with them works.
ENV S3_ACCESS_KEY=pathgrid S3_SECRET_KEY=pathgrid-secret
ENTRYPOINT ["/bin/sh", "-c", "exec s3s-fs --host 0.0.0.0 --port 8014 --access-key \"$S3_ACCESS_KEY\" --secret-key \"$S3_SECRET_KEY\" /srv/s3"]
