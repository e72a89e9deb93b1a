#!/usr/bin/env bash
# Runs every test of the project, as CI does: lint, unit and broker tests, the data-plane tests of
# our binaries (including the koilib compatibility script), packaging checks, the operator's
# end-to-end suite on a real control plane built from Go modules (kwok nodes), and the real-pods
# tier (the images built here, running on a real node: kubelet, containerd, CNI, kube-proxy,
# CoreDNS, local-path PVs).
# It installs what it needs (RabbitMQ, jq, lua, npm packages, Docker, containerd, the control-plane
# and node binaries), so it works on a fresh machine; a tier whose prerequisites are missing
# fails, it never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Incremental caches only pay off when editing; on CI they double the target dir.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# The control-plane and node builds are long and mostly Go: start them first, beside the Rust
# build.
step "control plane and node: build (cached) in the background"
mkdir -p target
bash scripts/ensure-node-packages.sh
(bash e2e/control-plane/build.sh && bash e2e/node/build.sh) > target/e2e-build.log 2>&1 &
cp_build_pid=$!

step "RabbitMQ"
bash scripts/ensure-rabbitmq.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "unit tests: no broker, no API server (builders, protocol vectors, service logic)"
cargo test --workspace --exclude koinos-e2e --locked --lib --bins -- --skip with_rabbitmq
cargo test --workspace --exclude koinos-e2e --locked --doc

step "contracts: the official AssemblyScript toolchain from npm (compat/contracts/build.sh; cached)"
bash compat/contracts/build.sh

step "broker integration: RabbitMQ on 127.0.0.1:5672 (every tests/ target, the operator's with_rabbitmq tests)"
cargo test --workspace --exclude koinos-e2e --locked --test '*'
cargo test -p koinos-operator --locked --lib with_rabbitmq

step "koilib compatibility"
bash compat/koilib/run.sh

step "packaging: Argo CD health check, chart and install manifest"
bash manifests/argocd/test.sh
bash scripts/render-manifests.sh --check

step "images: operator, services, RabbitMQ (scripts/images.sh; release build, cached)"
bash scripts/images.sh build

step "control plane and node: waiting for the build"
if ! wait "$cp_build_pid"; then
  tail -100 target/e2e-build.log >&2
  echo "control-plane or node build failed" >&2
  exit 1
fi

step "packaging on a real kube-apiserver (install.yaml under Pod Security, examples, RBAC)"
bash manifests/test-on-apiserver.sh

step "operator end-to-end suite (kwok nodes)"
bash e2e/control-plane/run-tests.sh

step "real-pods tier (a real node running the images)"
KOINOS_SKIP_IMAGES=1 bash e2e/node/run-tests.sh

step "all tests passed"
