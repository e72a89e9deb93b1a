# syntax=docker/dockerfile:1
# The koinos-services image: every Koinos service binary (koinos-chain, koinos-block-store, ...)
# in /usr/local/bin on distroless/cc, running as the distroless nonroot user (65532). The
# operator sets each pod's command to its service's binary and passes --basedir=/koinos.
#   docker build -f docker/services.Dockerfile -t ghcr.io/koinos-operator/koinos-services:v0.1.0 .
#
# Without a registry, scripts/images.sh builds it from host-built binaries on a local base:
#   BASE_IMAGE  the runtime base (default distroless/cc nonroot); any image with glibc, libgcc
#               and CA certificates works
#   BINARIES    source (default): compile in the rust builder stage;
#               prebuilt: take bin/* and the empty koinos/ dir from the build context (a staging
#               dir, not the repository), so BuildKit never reaches -- or pulls -- the rust stage

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie
ARG BASE_IMAGE=gcr.io/distroless/cc-debian13:nonroot
ARG BINARIES=source

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

# The binaries (and the empty /koinos), compiled above (BINARIES=source) or from the build
# context (BINARIES=prebuilt).
FROM scratch AS binaries-source
COPY --from=builder /out/bin/ /out/bin/
COPY --from=builder /koinos /koinos

FROM scratch AS binaries-prebuilt
COPY bin/ /out/bin/
COPY koinos /koinos

FROM binaries-${BINARIES} AS binaries

FROM ${BASE_IMAGE}
COPY --from=binaries /out/bin/ /usr/local/bin/
# The Koinos base directory of the official images, owned by the runtime user. In Kubernetes it
# is a mounted volume (the root filesystem is read-only); this keeps `docker run` working too.
COPY --from=binaries --chown=65532:65532 /koinos /koinos
WORKDIR /koinos
USER 65532:65532
