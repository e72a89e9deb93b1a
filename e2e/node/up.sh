#!/usr/bin/env bash
# Starts a REAL Kubernetes node beside a control plane started with E2E_REAL_NODE=1 by
# e2e/control-plane/up.sh in the same run directory:
#   containerd (a private instance: own config, root, state and socket under $RUN/node),
#   a CNI bridge (koinos-br0, 10.244.0.0/24), kubelet (node "koinos-node" on the node IP),
#   kube-proxy (iptables), CoreDNS (host process on the node IP :53, cluster.local only: no
#   upstream, so nothing leaves this machine) and local-path-provisioner (host process) behind the
#   default StorageClass "standard" (WaitForFirstConsumer, reclaim Delete).
# Every image tar in $KOINOS_IMAGES_DIR is imported into containerd first: no image can be pulled
# (containerd gets a dead loopback proxy, so a missing image fails at once instead of reaching out).
# PIDs go to $RUN/node/pids, logs to $RUN/logs; down.sh undoes everything.
#
#   up.sh RUN_DIR   (default: $E2E_RUN_DIR, else /tmp/koinos-e2e-current)
#   E2E_NODE_BIN    node binaries (default: what build.sh prints; builds if missing)
#   KOINOS_IMAGES_DIR (default ~/.cache/koinos-images)
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
START=$(date +%s)
log() { echo "[node $(date -u +%H:%M:%S)] $*" >&2; }

RUN="$(readlink -f "${1:-${E2E_RUN_DIR:-${TMPDIR:-/tmp}/koinos-e2e-current}}")"
[ -f "$RUN/env" ] && [ -f "$RUN/real-node" ] ||
  { echo "$RUN: no control plane started with E2E_REAL_NODE=1 there" >&2; exit 1; }
# shellcheck disable=SC1091
source "$RUN/env"
NBIN="${E2E_NODE_BIN:-$(bash "$HERE/build.sh" | tail -1)}"
IMAGES="${KOINOS_IMAGES_DIR:-$HOME/.cache/koinos-images}"
K8S_VERSION="$("$E2E_BIN/kube-apiserver" --version | awk '{print $2}')"

NODE_NAME=koinos-node
NODE_IP="$E2E_NODE_IP"
POD_CIDR=10.244.0.0/24 # this node's pods (the CNI bridge's subnet)
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/12
BRIDGE=koinos-br0
CGROUP_ROOT=koinos-e2e # kubelet puts every pod under /sys/fs/cgroup/<ctrl>/koinos-e2e
N="$RUN/node"
PKI="$RUN/pki"
SOCK="$N/containerd/containerd.sock"
KUBECTL=("$E2E_BIN/kubectl" --kubeconfig "$KUBECONFIG")
API="https://$NODE_IP:${E2E_APISERVER_PORT:-6443}"

on_error() {
  log "node failed to start; logs in $RUN/logs"
  E2E_KEEP_LOGS=1 bash "$HERE/down.sh" "$RUN" >&2 || true
  for f in containerd kubelet kube-proxy coredns local-path-provisioner; do
    [ -f "$RUN/logs/$f.log" ] && { echo "--- tail $RUN/logs/$f.log" >&2; tail -20 "$RUN/logs/$f.log" >&2; }
  done
}
trap on_error ERR

if [ -d "$N/pids" ] && ls "$N"/pids/*.pid >/dev/null 2>&1; then
  echo "a node is already running in $RUN (run down.sh first)" >&2
  exit 1
fi
if ip link show "$BRIDGE" >/dev/null 2>&1 || [ -d "/sys/fs/cgroup/pids/$CGROUP_ROOT" ] || [ -d "/sys/fs/cgroup/$CGROUP_ROOT" ]; then
  echo "$BRIDGE or cgroup $CGROUP_ROOT exists: another real node runs on this machine (or a stale one: down.sh it)" >&2
  exit 1
fi
# Paths outside our dir that cannot be moved: kubelet links container logs into
# /var/log/containers and serves device plugins from /var/lib/kubelet/device-plugins whatever its
# flags say; containerd caches CNI results in /var/lib/cni and puts shim sockets in
# /run/containerd/s. down.sh removes those dirs again if they were not there before (and are empty).
: > "$RUN/node-created-host-dirs"
for d in /var/log/containers /var/lib/kubelet /var/lib/cni /run/containerd; do
  [ -d "$d" ] || echo "$d" >> "$RUN/node-created-host-dirs"
done
mkdir -p "$N"/{pids,pki,containerd,runc,cni/net.d,cni/ipam,kubelet/root,pod-logs,volumes,coredns,local-path} "$RUN/logs"


# --- certificates, signed by the run's CA
CERTS="$N/pki" PIDS="$N/pids"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
client="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$client"
issue kubelet-serving "/CN=$NODE_NAME" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$NODE_NAME,IP:$NODE_IP"
issue kube-proxy "/CN=system:kube-proxy" "$client" # bound to system:node-proxier by default RBAC
# CoreDNS and the provisioner get identities of their own, so audit-log counts per user stay clean.
issue coredns "/O=system:masters/CN=koinos-e2e-coredns" "$client"
issue local-path-provisioner "/O=system:masters/CN=koinos-e2e-local-path-provisioner" "$client"
kubeconfig() { # name
  cat > "$N/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: koinos-e2e
  cluster: {server: "$API", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$N/pki/$1.crt", client-key: "$N/pki/$1.key"}
contexts:
- name: koinos-e2e
  context: {cluster: koinos-e2e, user: $1}
current-context: koinos-e2e
EOF
}
for c in kubelet kube-proxy coredns local-path-provisioner; do kubeconfig "$c"; done

# --- kernel: pods route through the host; bridged traffic must pass iptables (kube-proxy's DNAT).
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
sysctl -qw net.bridge.bridge-nf-call-ip6tables=1 2>/dev/null || true

# Docker sets FORWARD's policy to DROP; let pod-to-pod traffic through, and REJECT anything a pod
# sends off this machine (the workplace allows no traffic to addresses we did not create).
iptables -N KOINOS-E2E-FWD 2>/dev/null || iptables -F KOINOS-E2E-FWD
iptables -A KOINOS-E2E-FWD -s "$CLUSTER_CIDR" -d "$CLUSTER_CIDR" -j ACCEPT
iptables -A KOINOS-E2E-FWD -s "$CLUSTER_CIDR" -j REJECT
iptables -A KOINOS-E2E-FWD -d "$CLUSTER_CIDR" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -C FORWARD -j KOINOS-E2E-FWD 2>/dev/null || iptables -I FORWARD 1 -j KOINOS-E2E-FWD

# --- CNI: one bridge, host-local IPAM with its state under our dir
cat > "$N/cni/net.d/10-koinos-e2e.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "koinos-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$N/cni/ipam",
              "ranges": [[{"subnet": "$POD_CIDR", "gateway": "${POD_CIDR%.0/24}.1"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

# --- containerd: private instance. restrict_oom_score_adj: this VM withholds CAP_SYS_RESOURCE,
# without it every sandbox fails ("can't get final child's PID from pipe"). Network namespaces
# live under our state dir, runc state under ours; no plugin writes to /opt.
cat > "$N/containerd/config.toml" <<EOF
version = 2
root = "$N/containerd/root"
state = "$N/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/koinos/pause:$K8S_VERSION"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$N/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni/net.d"
    max_conf_num = 1
EOF
log "containerd"
# A dead proxy on loopback: a pull of an image we did not import fails at once, off-machine never.
start_proc containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
  /usr/bin/containerd --config "$N/containerd/config.toml"
CTR=(ctr -a "$SOCK" -n k8s.io)
wait_for "containerd" 30 "${CTR[@]}" version

log "importing images from $IMAGES"
for t in "$IMAGES"/*.tar; do
  [ -f "$t" ] || continue
  "${CTR[@]}" images import "$t" >/dev/null || { echo "import of $t failed" >&2; false; }
done
grep -qx "localhost/koinos/pause:$K8S_VERSION" <<< "$("${CTR[@]}" images ls -q)" ||
  { echo "pause image missing in $IMAGES: run e2e/node/build.sh" >&2; false; }

# --- kubelet: cgroupfs driver on cgroup v1, everything under our root dir and cgroup.
# The cgroup root must exist before kubelet starts (cpuset needs its cpus/mems filled in).
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  # cgroup v2 (one hierarchy): our root with the controllers the kubelet needs delegated to it.
  mkdir -p "/sys/fs/cgroup/$CGROUP_ROOT"
  for ctl in cpuset cpu io memory pids hugetlb; do
    echo "+$ctl" > "/sys/fs/cgroup/$CGROUP_ROOT/cgroup.subtree_control" 2>/dev/null || true
  done
else
  for c in /sys/fs/cgroup/*/; do # cgroup v1: one hierarchy per controller (symlinks are aliases)
    c="${c%/}"
    [ -L "$c" ] && continue
    case "$c" in */unified) continue ;; esac
    mkdir -p "$c/$CGROUP_ROOT"
    if [ -f "$c/cpuset.cpus" ]; then
      cat "$c/cpuset.cpus" > "$c/$CGROUP_ROOT/cpuset.cpus"
      cat "$c/cpuset.mems" > "$c/$CGROUP_ROOT/cpuset.mems"
    fi
  done
fi
# Pods get our DNS only (also dnsPolicy: Default pods), never the host's upstream resolver.
echo "nameserver $NODE_IP" > "$N/resolv.conf"
cat > "$N/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $N/pki/kubelet-serving.crt
tlsPrivateKeyFile: $N/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
resolvConf: $N/resolv.conf
podLogsDir: $N/pod-logs
failSwapOn: false
serializeImagePulls: false
# Images cannot be pulled again, so never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
maxPods: 110
nodeStatusUpdateFrequency: 10s
EOF
log "kubelet"
start_proc kubelet "$NBIN/kubelet" --config="$N/kubelet/config.yaml" --kubeconfig="$N/kubelet.kubeconfig" \
  --root-dir="$N/kubelet/root" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1

# --- kube-proxy: iptables mode; NodePorts only on the node IP; conntrack sysctls left alone.
cat > "$N/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
clientConnection: {kubeconfig: "$N/kube-proxy.kubeconfig"}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
log "kube-proxy"
start_proc kube-proxy "$NBIN/kube-proxy" --config="$N/kube-proxy.yaml"

# --- CoreDNS: cluster.local and reverse zones from the API; everything else fails (no forward).
cat > "$N/coredns/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $N/coredns.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
EOF
log "coredns"
start_proc coredns "$NBIN/coredns" -conf "$N/coredns/Corefile"

# --- local-path-provisioner: host process; its helper pods (mkdir/rm of volume dirs) run on the
# node with our busybox image. Volume dirs are 0777 so non-root pods can write them.
"${KUBECTL[@]}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: local-path-storage}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: local-path-provisioner, namespace: local-path-storage}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: local-path-config, namespace: local-path-storage}
data:
  config.json: |-
    {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["$N/volumes"]}]}
  setup: |-
    #!/bin/sh
    set -eu
    mkdir -m 0777 -p "\$VOL_DIR"
    chmod 0777 "\$VOL_DIR"
  teardown: |-
    #!/bin/sh
    set -eu
    rm -rf "\$VOL_DIR"
  helperPod.yaml: |-
    apiVersion: v1
    kind: Pod
    metadata:
      name: helper-pod
    spec:
      priorityClassName: system-node-critical
      tolerations:
      - {key: node.kubernetes.io/disk-pressure, operator: Exists, effect: NoSchedule}
      containers:
      - name: helper-pod
        image: localhost/koinos/busybox:local
        imagePullPolicy: IfNotPresent
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
EOF
log "local-path-provisioner"
start_proc local-path-provisioner "$NBIN/local-path-provisioner" start \
  --kubeconfig "$N/local-path-provisioner.kubeconfig" --namespace local-path-storage \
  --configmap-name local-path-config --service-account-name local-path-provisioner \
  --helper-image localhost/koinos/busybox:local --provisioner-name rancher.io/local-path

wait_for "node $NODE_NAME Ready" 90 "${KUBECTL[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
wait_for "kube-proxy healthz" 60 curl -sf http://127.0.0.1:10256/healthz
wait_for "coredns ready" 60 curl -sf http://127.0.0.1:18181/ready
for p in containerd kubelet kube-proxy coredns local-path-provisioner; do
  kill -0 "$(cat "$N/pids/$p.pid")" || { echo "$p exited" >&2; false; }
done

cat >> "$RUN/env" <<EOF
export E2E_NODE_NAME="$NODE_NAME"
export E2E_CONTAINERD_SOCK="$SOCK"
export E2E_NODE_BIN="$NBIN"
EOF
trap - ERR
log "node $NODE_NAME up in $(( $(date +%s) - START )) s (containerd $SOCK, logs $RUN/logs)"
echo "$KUBECONFIG"
