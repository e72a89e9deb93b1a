#!/usr/bin/env bash
# Stops a control plane started by up.sh, each process by the PID it saved, in reverse start order.
#   down.sh [RUN_DIR]   (default: $E2E_RUN_DIR, else the last run: /tmp/koinos-e2e-current)
#   E2E_KEEP_LOGS=1     keep the run directory (logs, audit log, PKI) instead of removing it
set -uo pipefail
RUN="${1:-${E2E_RUN_DIR:-${TMPDIR:-/tmp}/koinos-e2e-current}}"
RUN="$(readlink -f "$RUN")"
[ -d "$RUN/pids" ] || { echo "no control plane run directory at $RUN" >&2; exit 1; }

# Running and not a zombie: where PID 1 reaps orphans late, a stopped process lingers as one.
running() { local st; st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" && [ "$st" != Z ]; }
stop() { # name: TERM, wait up to 10 s, then KILL; only if the PID still runs a binary of ours
  local name="$1" pid i
  pid="$(cat "$RUN/pids/$name.pid" 2>/dev/null)" || return 0
  if running "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name"; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do running "$pid" || break; sleep 0.1; done
    running "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$RUN/pids/$name.pid"
}
# The hostPath provisioner's volumes live under /tmp/hostpath_pv; note this run's before the API
# server goes away, remove them once everything is stopped.
volumes=""
if [ -f "$RUN/env" ] && [ -f "$RUN/admin.kubeconfig" ]; then
  # shellcheck disable=SC1091
  volumes="$(source "$RUN/env" && timeout 10 "$E2E_BIN/kubectl" --kubeconfig "$RUN/admin.kubeconfig" \
    get pv -o jsonpath='{range .items[*]}{.spec.hostPath.path}{"\n"}{end}' 2>/dev/null)" || volumes=""
fi
if [ -f "$RUN/pids/order" ]; then
  for name in $(tac "$RUN/pids/order"); do stop "$name"; done
  rm -f "$RUN/pids/order"
fi

# Real-node mode: the dummy interface that carried the node IP (see up.sh E2E_REAL_NODE).
if [ -f "$RUN/real-node" ]; then ip link del koinos-node0 2>/dev/null; fi
for v in $volumes; do
  case "$v" in /tmp/hostpath_pv/*) rm -rf -- "$v" ;; esac
done

if [ "${E2E_KEEP_LOGS:-0}" = 1 ]; then
  echo "control plane stopped; logs kept in $RUN/logs (audit log $RUN/audit.log)" >&2
else
  rm -rf "$RUN"
  echo "control plane stopped; $RUN removed" >&2
fi
link="${TMPDIR:-/tmp}/koinos-e2e-current"
[ "$(readlink -f "$link" 2>/dev/null)" = "$RUN" ] && rm -f "$link"
exit 0
