# syntax=docker/dockerfile:1
# The koinos-operator image: the one binary on distroless/cc (glibc + libgcc, no
# shell), running as the distroless nonroot user (65532).
#   docker build -f docker/operator.Dockerfile -t ghcr.io/koinos-operator/koinos-operator:v0.1.0 .

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; `cargo install --path` puts the
# binary outside the cached target dir, and --locked keeps the workspace's Cargo.lock.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    CARGO_TARGET_DIR=/src/target cargo install --path operator --locked --root /out --bin koinos-operator

FROM gcr.io/distroless/cc-debian13:nonroot
COPY --from=builder /out/bin/koinos-operator /usr/local/bin/koinos-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/koinos-operator"]
CMD ["run"]
