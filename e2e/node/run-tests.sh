#!/usr/bin/env bash
# The real-pods tier end to end: build the control plane and the node (cached), the images
# (scripts/images.sh, which rebuilds only what changed; KOINOS_SKIP_IMAGES=1 uses the tars as they
# are), compile the tests first (so the node does not idle through a cargo build), then start the
# control plane in real-node mode plus the node, run
# `cargo test -p koinos-e2e --features real-pods` over the `TESTS` below one test at a time (two
# devnets do not fit the 2-core machine), stop everything. Logs are kept on failure (the path is
# printed).
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
t0=$(date +%s)
bash "$HERE/../control-plane/build.sh" > /dev/null
bash "$HERE/build.sh" > /dev/null
[ "${KOINOS_SKIP_IMAGES:-0}" = 1 ] || bash scripts/images.sh build
# The devnet test drives the cluster's JSON-RPC with koilib (compat/koilib, pinned).
[ -d compat/koilib/node_modules ] || (cd compat/koilib && npm ci --no-audit --no-fund --loglevel=error)
TESTS=(--test real_pods --test real_pods_broker --test real_pods_extra --test real_pods_pob)
cargo test -p koinos-e2e --features real-pods "${TESTS[@]}" --no-run --quiet
echo "[run-tests] build and compile: $(( $(date +%s) - t0 )) s" >&2
export RUST_TEST_THREADS=1
exec bash "$HERE/with-real-node.sh" cargo test -p koinos-e2e --features real-pods "${TESTS[@]}" "$@"
