#!/usr/bin/env bash
# Runs a command against a fresh control plane WITH a real node (containerd, kubelet, kube-proxy,
# CoreDNS, local-path-provisioner): build both (cached), start the control plane in real-node mode
# (no fake nodes unless E2E_NODES is set), start the node, export KUBECONFIG and friends (source of
# $RUN/env), run "$@", stop node and control plane. The run directory (logs, pod logs, audit log,
# PKI) is kept when the command or the start-up fails, and removed otherwise.
#   with-real-node.sh cargo test -p koinos-e2e --test real_node
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CP="$HERE/../control-plane"
log() { echo "[real-node $(date -u +%H:%M:%S)] $*" >&2; }
[ $# -gt 0 ] || { echo "usage: $0 command [args...]" >&2; exit 64; }

t0=$(date +%s)
bash "$CP/build.sh" > /dev/null
bash "$HERE/build.sh" > /dev/null
t_build=$(date +%s)

RUN="$(mktemp -d /tmp/koinos-e2e.XXXXXX)"
stop() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" = 0 ]; then
    bash "$HERE/down.sh" "$RUN"
    bash "$CP/down.sh" "$RUN"
  else
    E2E_KEEP_LOGS=1 bash "$HERE/down.sh" "$RUN" || true
    E2E_KEEP_LOGS=1 bash "$CP/down.sh" "$RUN" || true
    log "FAILED (exit $rc): logs in $RUN/logs (pod logs in $RUN/logs/pods), audit log $RUN/audit.log"
  fi
  exit "$rc"
}
trap stop EXIT INT TERM

E2E_REAL_NODE=1 E2E_NODES="${E2E_NODES:-0}" E2E_RUN_DIR="$RUN" bash "$CP/up.sh" > /dev/null
bash "$HERE/up.sh" "$RUN" > /dev/null
t_up=$(date +%s)
# shellcheck disable=SC1091
source "$RUN/env"
log "running: $* (KUBECONFIG=$KUBECONFIG)"
"$@"
t_done=$(date +%s)
log "done: build $((t_build - t0)) s, up $((t_up - t_build)) s, command $((t_done - t_up)) s"
