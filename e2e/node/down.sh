#!/usr/bin/env bash
# Stops a node started by e2e/node/up.sh and removes every trace of it: processes (kubelet,
# kube-proxy, CoreDNS, provisioner, pod processes, containerd and its shims), mounts under
# $RUN/node, the CNI bridge and veths, iptables chains and rules (KUBE-*, CNI-*, KOINOS-E2E-FWD),
# the pods' cgroups, CNI result caches and /var/log/containers links, and $RUN/node itself
# (container state and volumes). Fast (no graceful pod deletion) and idempotent.
#   down.sh [RUN_DIR]    (default: $E2E_RUN_DIR, else /tmp/koinos-e2e-current)
#   E2E_KEEP_LOGS=1      also copy the pods' logs to $RUN/logs/pods before removing them
# The control plane is left running; stop it with e2e/control-plane/down.sh.
set -uo pipefail
RUN="$(readlink -f "${1:-${E2E_RUN_DIR:-${TMPDIR:-/tmp}/koinos-e2e-current}}")"
N="$RUN/node"
BRIDGE=koinos-br0
CGROUP_ROOT=koinos-e2e
SOCK="$N/containerd/containerd.sock"
log() { echo "[node $(date -u +%H:%M:%S)] $*" >&2; }
START=$(date +%s)

# Running and not a zombie (PID 1 here reaps orphans only after a second or two).
running() { local st; st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" && [ "$st" != Z ]; }
stop() { # name [seconds]: TERM, wait, KILL; only if the PID still runs a binary of ours
  local name="$1" secs="${2:-5}" pid i
  pid="$(cat "$N/pids/$name.pid" 2>/dev/null)" || return 0
  if running "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name"; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < secs * 10; i++)); do running "$pid" || break; sleep 0.1; done
    running "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$N/pids/$name.pid"
}
# PIDs whose command line names our containerd socket: the runc shims of our containerd.
shims() { pgrep -f -- "containerd-shim.* -address $SOCK( |\$)"; }

# 1. Node agents first, so nothing restarts containers or re-adds rules while we tear down.
for name in local-path-provisioner coredns kube-proxy kubelet; do stop "$name" 2; done

# 2. Every pod process lives in a cgroup under $CGROUP_ROOT: kill them all.
for ((round = 0; round < 50; round++)); do
  pids=""
  for p in $(find /sys/fs/cgroup/"$CGROUP_ROOT" /sys/fs/cgroup/*/"$CGROUP_ROOT" -name cgroup.procs \
    -exec cat {} + 2>/dev/null | sort -u); do
    running "$p" && pids="$pids $p" # zombies stay listed until reaped; they need no signal
  done
  [ -n "$pids" ] || break
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  sleep 0.1
done

# 3. containerd's shims (note their sockets in /run/containerd/s), then containerd itself.
shim_pids="$(shims)"
shim_socks=""
if [ -n "$shim_pids" ]; then
  for p in $shim_pids; do
    shim_socks="$shim_socks $(ss -xlpn 2>/dev/null | grep "pid=$p," | awk '{print $5}' | grep '^/run/containerd/s/' || true)"
  done
  # shellcheck disable=SC2086
  kill -KILL $shim_pids 2>/dev/null
fi
# Sandbox IDs name the CNI result cache files (/var/lib/cni/results/<network>-<id>-<if>).
sandboxes="$(ls "$N/containerd/root/io.containerd.grpc.v1.cri/sandboxes" 2>/dev/null)"
stop containerd 3
for s in $shim_socks; do rm -f "$s"; done

# 4. Mounts under our dir (container rootfs, shm, secrets, netns), innermost first.
for ((round = 0; round < 5; round++)); do
  mounts="$(awk -v d="$N/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | tac)"
  [ -n "$mounts" ] || break
  for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done

# 5. Network: veths on our bridge (their netns are gone with the mounts), the bridge itself.
for v in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  ip link del "$v" 2>/dev/null
done
ip link del "$BRIDGE" 2>/dev/null

# 6. iptables: rules that jump to KUBE-*/CNI-*/KOINOS-E2E-* chains, then those chains.
# (Only one real node runs per machine, and nothing else here uses these prefixes.)
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle raw; do
    dump="$("$ipt-save" -t "$table" 2>/dev/null)" || continue
    echo "$dump" | grep -E '^-A ' | grep -E -- '-j (KUBE-|CNI-|KOINOS-E2E-)' |
      grep -Ev '^-A (KUBE-|CNI-|KOINOS-E2E-)' | while read -r rule; do
        eval "$ipt -t $table -D ${rule#-A }" 2>/dev/null
      done
    chains="$(echo "$dump" | grep -oE '^:(KUBE-|CNI-|KOINOS-E2E-)[^ ]+' | cut -c2-)"
    for c in $chains; do "$ipt" -t "$table" -F "$c" 2>/dev/null; done
    for c in $chains; do "$ipt" -t "$table" -X "$c" 2>/dev/null; done
  done
done

# 7. cgroups (deepest first), CNI result cache, kubelet's /var/log/containers links.
# (A cgroup holding a zombie cannot go until PID 1 reaps it: retry for a few seconds.)
for ((round = 0; round < 50; round++)); do
  left=""
  for c in /sys/fs/cgroup/"$CGROUP_ROOT" /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [ -d "$c" ] && { find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; [ -d "$c" ] && left=1; }
  done
  [ -n "$left" ] || break
  sleep 0.1
done
[ -z "$left" ] || log "cgroups left under /sys/fs/cgroup/*/$CGROUP_ROOT"
rm -f /var/lib/cni/results/koinos-e2e-* 2>/dev/null
for id in $sandboxes; do rm -f /var/lib/cni/results/*-"$id"-* 2>/dev/null; done
find /var/log/containers -maxdepth 1 -lname "$N/*" -delete 2>/dev/null
if [ -f "$RUN/node-created-host-dirs" ]; then
  for d in $(cat "$RUN/node-created-host-dirs"); do
    case "$d" in
      /var/lib/kubelet) rm -f "$d/device-plugins/kubelet.sock"; rmdir "$d/device-plugins" 2>/dev/null ;;
      /var/lib/cni) rmdir "$d/results" 2>/dev/null ;;
      /run/containerd) rmdir "$d/s" 2>/dev/null ;; # shared with any other containerd's shims
    esac
    rmdir "$d" 2>/dev/null
  done
  rm -f "$RUN/node-created-host-dirs"
fi

# 8. State and volumes.
if [ -d "$N" ]; then
  if [ "${E2E_KEEP_LOGS:-0}" = 1 ] && [ -d "$N/pod-logs" ]; then
    mkdir -p "$RUN/logs/pods" && cp -r "$N/pod-logs/." "$RUN/logs/pods/" 2>/dev/null
  fi
  if awk -v d="$N/" 'index($5, d) == 1 {f = 1} END {exit !f}' /proc/self/mountinfo; then
    log "mounts left under $N; not removing it"
    exit 1
  fi
  rm -rf "$N"
fi
log "node stopped in $(( $(date +%s) - START )) s; $N removed"
exit 0
