#!/usr/bin/env bash
# The e2e suite end to end: build the control plane (cached), compile the tests, start the
# control plane, run `cargo test -p koinos-e2e`, stop it. Logs, audit log and PKI are kept when
# anything fails (the path is printed). Extra arguments go to `cargo test` (e.g. a test filter).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../.."
log() { echo "[run-tests $(date -u +%H:%M:%S)] $*" >&2; }
t0=$(date +%s)

log "building the control plane (cached after the first run)"
bash "$HERE/build.sh" > /dev/null
t_build=$(date +%s)

log "compiling the e2e suite"
cargo test -p koinos-e2e --no-run --quiet
t_compile=$(date +%s)

RUN="$(mktemp -d /tmp/koinos-e2e.XXXXXX)"
stop() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" = 0 ]; then
    bash "$HERE/down.sh" "$RUN"
  else
    E2E_KEEP_LOGS=1 bash "$HERE/down.sh" "$RUN"
    log "FAILED (exit $rc): control-plane logs in $RUN/logs, audit log $RUN/audit.log"
  fi
  exit "$rc"
}
trap stop EXIT INT TERM

E2E_RUN_DIR="$RUN" bash "$HERE/up.sh" > /dev/null
t_up=$(date +%s)
# shellcheck disable=SC1091
source "$RUN/env"

log "running the suite against $KUBECONFIG"
cargo test -p koinos-e2e "$@"
t_suite=$(date +%s)
log "passed: build $((t_build - t0)) s, compile $((t_compile - t_build)) s, up $((t_up - t_compile)) s, suite $((t_suite - t_up)) s"
