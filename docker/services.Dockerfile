# syntax=docker/dockerfile:1
# The koinos-services image: every Koinos service binary (koinos-chain, koinos-block-store, ...)
# in /usr/local/bin on distroless/cc, running as the distroless nonroot user (65532). The
# operator sets each pod's command to its service's binary and passes --basedir=/koinos.
#   docker build -f docker/services.Dockerfile -t ghcr.io/koinos-operator/koinos-services:v0.1.0 .

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# `cargo install --path` puts exactly this package's binaries in /out/bin (nothing stale from
# the shared target cache); --locked keeps the workspace's Cargo.lock.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    CARGO_TARGET_DIR=/src/target cargo install --path services --locked --root /out \
    && mkdir -p /koinos

FROM gcr.io/distroless/cc-debian13:nonroot
COPY --from=builder /out/bin/ /usr/local/bin/
# The Koinos base directory of the official images, owned by the runtime user. In Kubernetes it
# is a mounted volume (the root filesystem is read-only); this keeps `docker run` working too.
COPY --from=builder --chown=65532:65532 /koinos /koinos
WORKDIR /koinos
USER 65532:65532
