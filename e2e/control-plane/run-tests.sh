#!/usr/bin/env bash
# The e2e suite end to end: build the control plane (cached), compile the suite first (so the
# control plane does not idle through a cold cargo build), start the control plane, run
# `cargo test -p koinos-e2e`, stop it. Logs are kept on failure (the path is printed).
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
t0=$(date +%s)
bash "$HERE/build.sh" > /dev/null
cargo test -p koinos-e2e --no-run --quiet
# Our service binaries: chain_status runs a producing devnet of them (it builds them too, but
# building here keeps the control plane from idling through the build).
cargo build -p koinos-services --bins --quiet
echo "[run-tests] build and compile: $(( $(date +%s) - t0 )) s" >&2
exec bash "$HERE/with-control-plane.sh" cargo test -p koinos-e2e "$@"
