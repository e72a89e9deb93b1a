#!/usr/bin/env bash
# Runs a command against a fresh control plane: build it (cached), start it, export KUBECONFIG
# and friends, run "$@", stop it. The run directory (logs, audit log, PKI) is kept when the
# command or the start-up fails, and removed otherwise.
#   with-control-plane.sh cargo bench -p koinos-e2e
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "[control-plane $(date -u +%H:%M:%S)] $*" >&2; }
[ $# -gt 0 ] || { echo "usage: $0 command [args...]" >&2; exit 64; }

t0=$(date +%s)
bash "$HERE/build.sh" > /dev/null
t_build=$(date +%s)

RUN="$(mktemp -d /tmp/koinos-e2e.XXXXXX)"
stop() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" = 0 ]; then
    bash "$HERE/down.sh" "$RUN"
  else
    E2E_KEEP_LOGS=1 bash "$HERE/down.sh" "$RUN" || true
    log "FAILED (exit $rc): control-plane logs in $RUN/logs, audit log $RUN/audit.log"
  fi
  exit "$rc"
}
trap stop EXIT INT TERM

E2E_RUN_DIR="$RUN" bash "$HERE/up.sh" > /dev/null
t_up=$(date +%s)
# shellcheck disable=SC1091
source "$RUN/env"
log "running: $* (KUBECONFIG=$KUBECONFIG)"
"$@"
t_done=$(date +%s)
log "done: build $((t_build - t0)) s, up $((t_up - t_build)) s, command $((t_done - t_up)) s"
