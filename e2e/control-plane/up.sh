#!/usr/bin/env bash
# Starts a real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver (with an audit log of
# every write), kube-controller-manager (all controllers, HPA sync 5 s, hostPath provisioner),
# kube-scheduler and kwok (fake nodes and pods). Aggregated APIs are reached at their Services'
# endpoints (no kube-proxy routes ClusterIPs here), so a test can serve one from this machine.
# Each process is started in the background and its
# PID saved in $RUN/pids/<name>.pid; `down.sh` stops them by those PIDs.
#
#   E2E_RUN_DIR   run directory (default: a new /tmp/koinos-e2e.XXXXXX); holds pki/, logs/, pids/
#   E2E_BIN       binaries (default: what build.sh prints; builds if missing)
#   E2E_NODES     number of fake nodes (default 3)
#   E2E_APISERVER_PORT / E2E_ETCD_PORT  ports (defaults 6443 / 2379; etcd peer = etcd port + 1)
#   E2E_REAL_NODE=1  prepare for a real node (e2e/node/up.sh): the node's address E2E_NODE_IP
#                 (default 10.250.0.1) goes on an interface koinos-node0 that we create; the
#                 API server listens on all addresses, advertises the node IP (so pods reach
#                 kubernetes.default through kube-proxy), uses Node+RBAC authorization and a kubelet
#                 client cert; no hostPath StorageClass (the node brings local-path as the default).
#
# On success the last line of stdout is the KUBECONFIG path; $RUN/env can be sourced.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
START=$(date +%s)
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

BIN="${E2E_BIN:-$(bash "$HERE/build.sh" | tail -1)}"
CACHE_ROOT="$(dirname "$BIN")"
STAGES="$CACHE_ROOT/kwok-stages.yaml"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
  [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: run e2e/control-plane/build.sh" >&2; exit 1; }
done
[ -f "$STAGES" ] || { echo "missing $STAGES: run e2e/control-plane/build.sh" >&2; exit 1; }

RUN="${E2E_RUN_DIR:-$(mktemp -d /tmp/koinos-e2e.XXXXXX)}"
mkdir -p "$RUN/pki" "$RUN/logs" "$RUN/pids"
RUN="$(cd "$RUN" && pwd)"
NODES="${E2E_NODES:-3}"
API_PORT="${E2E_APISERVER_PORT:-6443}"
ETCD_PORT="${E2E_ETCD_PORT:-2379}"
ETCD_PEER_PORT=$((ETCD_PORT + 1))
KCM_PORT="${E2E_KCM_PORT:-10257}"
SCHED_PORT="${E2E_SCHEDULER_PORT:-10259}"
KWOK_PORT="${E2E_KWOK_PORT:-10247}"
PKI="$RUN/pki"
CERTS="$PKI" PIDS="$RUN/pids"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
REAL_NODE="${E2E_REAL_NODE:-0}"
NODE_IP="${E2E_NODE_IP:-10.250.0.1}"
NODE_IF=koinos-node0
# kwok's fake pods get IPs from this range; beside a real node it must not overlap the real pods'.
KWOK_CIDR=10.244.0.0/16
[ "$REAL_NODE" != 1 ] || KWOK_CIDR=10.245.0.0/16
KUBECONFIG_FILE="$RUN/admin.kubeconfig"

# If anything below fails, stop what was already started and keep the logs for inspection.
on_error() {
  log "control plane failed to start; logs in $RUN/logs"
  E2E_KEEP_LOGS=1 bash "$HERE/down.sh" "$RUN" >&2 || true
  for f in "$RUN"/logs/*.log; do echo "--- tail $f" >&2; tail -15 "$f" >&2; done
}
trap on_error ERR

for port in "$API_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is already in use (another control plane? run down.sh)" >&2
    exit 1
  fi
done

if [ "$REAL_NODE" = 1 ]; then
  # Every address the node uses is ours: a /32 on an interface of ours that routes nowhere else.
  # (A bridge without ports stands in for a dummy interface: this kernel has no dummy driver.)
  if ! ip -br addr show dev "$NODE_IF" 2>/dev/null | grep -qw "$NODE_IP/32"; then
    ip link add "$NODE_IF" type dummy 2>/dev/null || ip link add "$NODE_IF" type bridge
    ip addr add "$NODE_IP/32" dev "$NODE_IF"
    sysctl -qw "net.ipv6.conf.$NODE_IF.disable_ipv6=1" 2>/dev/null || true
    ip link set "$NODE_IF" up
  fi
  echo "$NODE_IP" > "$RUN/real-node"
fi

NODE_SAN=""
[ "$REAL_NODE" != 1 ] || NODE_SAN=",IP:$NODE_IP"
# --- PKI: one CA; serving cert for the apiserver; client certs; service-account key pair.
log "PKI in $PKI"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=koinos-e2e-ca"
issue apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1$NODE_SAN"
client_ext="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
issue admin "/O=system:masters/CN=koinos-e2e-admin" "$client_ext"
issue front-proxy-client "/CN=front-proxy-client" "$client_ext"
APISERVER_MODE=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none
  --authorization-mode=RBAC)
if [ "$REAL_NODE" = 1 ]; then
  # For `kubectl logs/exec/port-forward`: the API server calls the kubelet with this identity.
  issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client_ext"
  APISERVER_MODE=(--bind-address=0.0.0.0 --advertise-address="$NODE_IP" --endpoint-reconciler-type=lease
    --authorization-mode=Node,RBAC
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname)
fi
ossl genrsa -out "$PKI/sa.key" 2048
ossl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

cat > "$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: koinos-e2e
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: koinos-e2e-admin
  user: {client-certificate: "$PKI/admin.crt", client-key: "$PKI/admin.key"}
contexts:
- name: koinos-e2e
  context: {cluster: koinos-e2e, user: koinos-e2e-admin}
current-context: koinos-e2e
EOF

# Audit every write (one event per request, at ResponseComplete) so tests can count the writes a
# given identity makes; reads are not logged.
cat > "$RUN/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
EOF

alive() { kill -0 "$(cat "$RUN/pids/$1.pid")"; }
KUBECTL=("$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE")

log "etcd"
start_proc etcd "$BIN/etcd" --name=default --data-dir="$RUN/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync
wait_for "etcd health" 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

log "kube-apiserver"
start_proc kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --secure-port="$API_PORT" "${APISERVER_MODE[@]}" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range=10.96.0.0/12 \
  --allow-privileged=true \
  --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --enable-aggregator-routing=true \
  --audit-policy-file="$RUN/audit-policy.yaml" --audit-log-path="$RUN/audit.log" \
  --audit-log-mode=blocking --audit-log-maxsize=0
wait_for "kube-apiserver /readyz" 90 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://127.0.0.1:$API_PORT/readyz"

log "kube-controller-manager, kube-scheduler, kwok"
KC="--kubeconfig=$KUBECONFIG_FILE"
start_proc kube-controller-manager "$BIN/kube-controller-manager" "$KC" \
  --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
  --controllers='*' --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --horizontal-pod-autoscaler-sync-period=5s \
  --enable-hostpath-provisioner=true
start_proc kube-scheduler "$BIN/kube-scheduler" "$KC" \
  --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --leader-elect=false
start_proc kwok "$BIN/kwok" "$KC" --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --config="$STAGES" \
  --cidr="$KWOK_CIDR" --node-ip=10.1.0.1 --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT"

# --- cluster contents: fake nodes (kwok fills their status) and a default StorageClass whose
# PVCs the controller-manager's hostPath provisioner binds immediately.
{
  for ((i = 0; i < NODES; i++)); do
    cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}
  labels: {kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
---
EOF
  done
  [ "$REAL_NODE" = 1 ] || cat <<'EOF'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
volumeBindingMode: Immediate
reclaimPolicy: Delete
allowVolumeExpansion: true
EOF
} > "$RUN/cluster-objects.yaml"
if [ -s "$RUN/cluster-objects.yaml" ]; then
  wait_for "kubectl apply of nodes and StorageClass" 30 "${KUBECTL[@]}" apply -f "$RUN/cluster-objects.yaml"
fi

for p in kube-controller-manager kube-scheduler kwok; do alive "$p" || { echo "$p exited" >&2; false; }; done
wait_for "kube-controller-manager /healthz" 60 curl -skf "https://127.0.0.1:$KCM_PORT/healthz"
wait_for "kube-scheduler /healthz" 60 curl -skf "https://127.0.0.1:$SCHED_PORT/healthz"
[ "$NODES" = 0 ] || wait_for "fake nodes Ready" 60 "${KUBECTL[@]}" wait --for=condition=Ready node --all --timeout=1s
wait_for "default ServiceAccount" 60 "${KUBECTL[@]}" get serviceaccount default -n default

cat > "$RUN/env" <<EOF
export KUBECONFIG="$KUBECONFIG_FILE"
export E2E_RUN_DIR="$RUN"
export E2E_AUDIT_LOG="$RUN/audit.log"
export E2E_BIN="$BIN"
EOF
if [ "$REAL_NODE" = 1 ]; then
  printf 'export E2E_REAL_NODE=1\nexport E2E_NODE_IP="%s"\n' "$NODE_IP" >> "$RUN/env"
fi
ln -sfn "$RUN" "${TMPDIR:-/tmp}/koinos-e2e-current"
trap - ERR
log "control plane up in $(( $(date +%s) - START )) s; run dir $RUN (source $RUN/env)"
echo "$KUBECONFIG_FILE"
