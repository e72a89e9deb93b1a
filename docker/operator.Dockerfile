# syntax=docker/dockerfile:1
# The koinos-operator image: the one binary on distroless/cc (glibc + libgcc, no
# shell), running as the distroless nonroot user (65532).
#   docker build -f docker/operator.Dockerfile -t ghcr.io/koinos-operator/koinos-operator:v0.1.0 .
#
# Without a registry, scripts/images.sh builds it from host-built binaries on a local base:
#   BASE_IMAGE  the runtime base (default distroless/cc nonroot); any image with glibc, libgcc
#               and CA certificates works
#   BINARIES    source (default): compile in the rust builder stage;
#               prebuilt: take bin/koinos-operator from the build context (a staging dir, not
#               the repository), so BuildKit never reaches -- or pulls -- the rust stage

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie
ARG BASE_IMAGE=gcr.io/distroless/cc-debian13:nonroot
ARG BINARIES=source

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; `cargo install --path` puts the
# binary outside the cached target dir, and --locked keeps the workspace's Cargo.lock.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    CARGO_TARGET_DIR=/src/target cargo install --path operator --locked --root /out --bin koinos-operator

# The binary, compiled above (BINARIES=source) or from the build context (BINARIES=prebuilt).
FROM scratch AS binaries-source
COPY --from=builder /out/bin/koinos-operator /out/bin/koinos-operator

FROM scratch AS binaries-prebuilt
COPY bin/koinos-operator /out/bin/koinos-operator

FROM binaries-${BINARIES} AS binaries

FROM ${BASE_IMAGE}
COPY --from=binaries /out/bin/koinos-operator /usr/local/bin/koinos-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/koinos-operator"]
CMD ["run"]
