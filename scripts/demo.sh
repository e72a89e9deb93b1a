#!/usr/bin/env bash
# The main job: a local Kubernetes cluster on real pods, the operator installed the way a user
# installs it, and a demo KoinosCluster producing blocks.
#   1. builds (cached) the control plane and the node from Go modules (e2e/control-plane,
#      e2e/node) and the images from docker/ (scripts/images.sh: operator, services, RabbitMQ);
#   2. starts the control plane and a real node (containerd + runc, CNI bridge, kubelet,
#      kube-proxy, CoreDNS, local-path PVs) and loads the images into the node's runtime;
#   3. `kubectl apply --server-side -f manifests/install.yaml` (the operator as a pod, with its
#      external metrics API registered);
#   4. applies KoinosCluster `demo` (a devnet: generated genesis and producer key, a managed
#      RabbitMQ, every service a container; block_store autoscaled on its queue depth);
#   5. forwards the cluster's JSON-RPC Service to 127.0.0.1 (the URL to give koilib) and shows
#      the cluster, its pods and the HPA every 10 s.
# Ctrl-C stops everything (pods, node, control plane) in seconds and leaves nothing running.
#
#   DEMO_JSONRPC_PORT   local port of the JSON-RPC forward (default 8080)
#
# The first run builds everything (about 30-40 minutes on 2 cores; cached afterwards in
# ~/.cache/koinos-e2e and ~/.cache/koinos-images). Logs stay in target/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEMO="$ROOT/target/demo"
NS=koinos-demo
PORT="${DEMO_JSONRPC_PORT:-8080}"
log() { echo "[demo $(date -u +%H:%M:%S)] $*" >&2; }
mkdir -p "$DEMO"
RUN="$DEMO/cluster"

forward_pid=""
started=false
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  log "stopping"
  [ -n "$forward_pid" ] && kill "$forward_pid" 2>/dev/null
  if $started; then
    bash e2e/node/down.sh "$RUN" >> "$DEMO/down.log" 2>&1 || true
    E2E_KEEP_LOGS=1 bash e2e/control-plane/down.sh "$RUN" >> "$DEMO/down.log" 2>&1 || true
  fi
  log "stopped; logs in $DEMO"
  exit "$rc"
}
trap cleanup EXIT INT TERM

bash scripts/ensure-node-packages.sh > /dev/null
log "building (cached): control plane and node from Go modules in the background; log $DEMO/build.log"
(bash e2e/control-plane/build.sh && bash e2e/node/build.sh) > "$DEMO/build.log" 2>&1 &
build_pid=$!
log "building (cached): images (log $DEMO/images.log)"
if ! bash scripts/images.sh build > "$DEMO/images.log" 2>&1; then
  tail -30 "$DEMO/images.log" >&2
  exit 1
fi
if ! wait "$build_pid"; then
  tail -30 "$DEMO/build.log" >&2
  exit 1
fi

log "starting the control plane and the node"
if [ -d "$RUN/pids" ]; then # a previous demo that did not stop cleanly
  bash e2e/node/down.sh "$RUN" > /dev/null 2>&1 || true
  bash e2e/control-plane/down.sh "$RUN" > /dev/null 2>&1 || true
fi
rm -rf "$RUN"
started=true
E2E_REAL_NODE=1 E2E_NODES=0 E2E_RUN_DIR="$RUN" bash e2e/control-plane/up.sh > "$DEMO/up.log" 2>&1
bash e2e/node/up.sh "$RUN" >> "$DEMO/up.log" 2>&1
# shellcheck disable=SC1091
source "$RUN/env"
k() { "$E2E_BIN/kubectl" "$@"; }

log "kubectl apply --server-side -f manifests/install.yaml"
k apply --server-side -f manifests/install.yaml > /dev/null
k -n koinos-system rollout status deployment/koinos-operator --timeout=300s > /dev/null

log "applying KoinosCluster $NS/demo"
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - > /dev/null
k apply --server-side -f - > /dev/null <<EOF
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: demo, namespace: $NS}
spec:
  network:
    devnet: {}
  amqp:
    managed:
      # Debian's rabbitmq-server, built by scripts/images.sh (no registry is reachable here).
      image: localhost/koinos/rabbitmq:local
  services:
    blockStore:
      autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 3, targetQueueDepth: 10}
    # Our services image does not ship grpc yet and its official image cannot be pulled here.
    grpc: {enabled: false}
EOF

log "waiting for the JSON-RPC gateway"
for _ in $(seq 1 150); do
  k -n "$NS" get endpointslices -l kubernetes.io/service-name=demo-jsonrpc \
    -o jsonpath='{.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}' 2>/dev/null | grep -q . && break
  sleep 2
done
k -n "$NS" port-forward --address 127.0.0.1 svc/demo-jsonrpc "$PORT:8080" > "$DEMO/port-forward.log" 2>&1 &
forward_pid=$!

log "ready: JSON-RPC at http://127.0.0.1:$PORT/ (koilib: new Provider([\"http://127.0.0.1:$PORT/\"]))"
log "the funded producer key: kubectl -n $NS get secret demo-producer-key -o jsonpath='{.data.private\\.key}' | base64 -d"
log "KUBECONFIG=$KUBECONFIG; Ctrl-C stops everything"
while true; do
  kill -0 "$forward_pid" 2>/dev/null || {
    k -n "$NS" port-forward --address 127.0.0.1 svc/demo-jsonrpc "$PORT:8080" >> "$DEMO/port-forward.log" 2>&1 &
    forward_pid=$!
  }
  echo
  date -u +%H:%M:%S
  k -n "$NS" get koinosclusters,pods,hpa 2>&1 || true
  sleep 10
done
