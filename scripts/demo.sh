#!/usr/bin/env bash
# The main job, on an embedded default: a producing Koinos devnet of our binaries on the local
# RabbitMQ, a local Kubernetes control plane (kube-apiserver, etcd, controller-manager,
# scheduler built from Go modules; kwok for fake nodes), the operator running against it, and a
# demo KoinosCluster whose broker is that RabbitMQ. `kubectl get kc` then shows the chain's
# HEIGHT and LIB read by the operator over AMQP, and the block_store HPA reads its queue depth
# from the operator's external metrics API.
#
#   scripts/demo.sh            # keeps an existing devnet under target/demo
#   scripts/demo.sh --reset    # a fresh devnet (new keys, empty chain)
#
# The first run builds the control plane (about 20 minutes on 2 cores, cached afterwards in
# ~/.cache/koinos-e2e) beside the Cargo build. The kwok pods are fake: the Koinos services that
# answer are the devnet's processes. Ctrl-C stops everything; logs stay in target/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEMO="$ROOT/target/demo"
NS=koinos-demo
VHOST=koinos-demo
AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$VHOST"
METRICS_API_PORT="${DEMO_METRICS_API_PORT:-6444}"
reset=false
for arg in "$@"; do
  case "$arg" in
    --reset) reset=true ;;
    *) echo "usage: $0 [--reset]" >&2; exit 2 ;;
  esac
done
log() { echo "[demo $(date -u +%H:%M:%S)] $*" >&2; }
mkdir -p "$DEMO"

pids=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$DEMO/control-plane/env" ]; then bash e2e/control-plane/down.sh "$DEMO/control-plane" || true; fi
  log "logs: $DEMO/*.log"
}
trap cleanup EXIT INT TERM

bash scripts/ensure-rabbitmq.sh
log "control plane: build (cached) in the background; log $DEMO/control-plane-build.log"
bash e2e/control-plane/build.sh > "$DEMO/control-plane-build.log" 2>&1 &
build_pid=$!

log "cargo build (services and operator)"
cargo build -p koinos-services --bins -p koinos-operator
BIN="$ROOT/target/debug"

log "devnet on RabbitMQ vhost $VHOST"
rabbitmqctl -q add_vhost "$VHOST" 2>/dev/null || true
rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
if $reset || [ ! -f "$DEMO/devnet/devnet.json" ]; then
  rm -rf "$DEMO/devnet"
  "$BIN/koinos-devnet" init --basedir "$DEMO/devnet" --amqp "$AMQP_URL" > "$DEMO/devnet-init.log"
fi
"$BIN/koinos-devnet" run --basedir "$DEMO/devnet" --bin-dir "$BIN" --quiet > "$DEMO/devnet.log" 2>&1 &
pids+=($!)

if ! wait "$build_pid"; then
  tail -30 "$DEMO/control-plane-build.log" >&2
  exit 1
fi
log "control plane: starting"
rm -rf "$DEMO/control-plane"
E2E_RUN_DIR="$DEMO/control-plane" bash e2e/control-plane/up.sh > /dev/null
# shellcheck disable=SC1091
source "$DEMO/control-plane/env"
k() { kubectl "$@"; }

log "installing the CRD and the demo cluster's prerequisites"
k apply --server-side -f crds/ > /dev/null
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - > /dev/null
k -n "$NS" create secret generic demo-amqp --from-literal=url="$AMQP_URL" \
  --dry-run=client -o yaml | k apply -f - > /dev/null
k -n "$NS" create configmap demo-genesis --from-file=genesis_data.json="$DEMO/devnet/chain/genesis_data.json" \
  --dry-run=client -o yaml | k apply -f - > /dev/null

# The aggregated external metrics API: on a real cluster the chart registers it with a Service
# in front of the operator's pods; here the operator is a local process, so the Service has no
# selector and its endpoint is this machine's address.
host_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}')
host_ip="${host_ip:-$(hostname -I | awk '{print $1}')}"
k apply -f - > /dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: koinos-operator-external-metrics, namespace: default}
spec:
  ports: [{name: https, port: 443, targetPort: $METRICS_API_PORT}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: koinos-operator-external-metrics, namespace: default}
subsets:
  - addresses: [{ip: "$host_ip"}]
    ports: [{name: https, port: $METRICS_API_PORT}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.external.metrics.k8s.io}
spec:
  group: external.metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {name: koinos-operator-external-metrics, namespace: default, port: 443}
EOF

log "operator: running (log $DEMO/operator.log)"
"$BIN/koinos-operator" run --admin-addr 127.0.0.1:18080 \
  --metrics-api-addr "0.0.0.0:$METRICS_API_PORT" > "$DEMO/operator.log" 2>&1 &
pids+=($!)

k apply -f - > /dev/null <<EOF
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: demo, namespace: $NS}
spec:
  network:
    genesis:
      configMapRef: {name: demo-genesis}
  amqp:
    external:
      urlSecretRef: {name: demo-amqp, key: url}
  services:
    p2p: {enabled: false}
    blockStore:
      autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 3, targetQueueDepth: 10}
EOF

jsonrpc=$(jq -r .rpc_url "$DEMO/devnet/devnet.json")
log "ready. JSON-RPC of the devnet: ${jsonrpc:-see $DEMO/devnet/devnet.json}; KUBECONFIG=$KUBECONFIG"
log "Ctrl-C stops the operator, the devnet and the control plane"
while true; do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { log "a process exited; see $DEMO/*.log"; exit 1; }
  done
  echo
  date -u +%H:%M:%S
  k -n "$NS" get koinosclusters,statefulsets,deployments,hpa 2>&1 || true
  sleep 10
done
