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
# Builds every binary of the koinos-services package and copies the koinos-* executables out of
# the cached target dir inside the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p koinos-services --bins \
    && mkdir -p /out \
    && find target/release -maxdepth 1 -type f -executable -name 'koinos-*' \
         -exec install -m 0755 -t /out {} + \
    && test -n "$(ls /out)"

FROM gcr.io/distroless/cc-debian13:nonroot
COPY --from=builder /out/ /usr/local/bin/
# The Koinos base directory of the official images. In Kubernetes it is a mounted volume (the
# root filesystem is read-only); this keeps `docker run` working too.
WORKDIR /koinos
USER 65532:65532
