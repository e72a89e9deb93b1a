#!/usr/bin/env bash
# Builds a real Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd) from the Go module proxy, plus kwok (fake nodes), into a cache outside the repo.
# A second run with the same versions is a cache hit and returns at once.
#
#   K8S_VERSION   (default v1.36.3)  Kubernetes release to build
#   KWOK_VERSION  (default v0.8.0)   kwok release to build
#   E2E_CACHE     (default ~/.cache/koinos-e2e) cache root; binaries land in $E2E_CACHE/$K8S_VERSION/bin
#
# Prints the bin directory on the last line of stdout.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
STAGING="v0.${K8S_VERSION#v1.}"
ROOT="${E2E_CACHE:-$HOME/.cache/koinos-e2e}/$K8S_VERSION"
BIN="$ROOT/bin"
WRAPPER="$ROOT/wrapper"
STAMP="$ROOT/.complete-kwok-$KWOK_VERSION"

# Never fetch another Go toolchain; build static binaries like the official release does.
export GOTOOLCHAIN=local CGO_ENABLED=0
# On CI the Go build cache (about 4 GB for these binaries) is worth nothing once they are
# built, and CI machines have little disk: build into a private cache and drop it afterwards.
if [ "${CI:-}" = "true" ]; then
  export GOCACHE="${E2E_CACHE:-$HOME/.cache/koinos-e2e}/go-build-tmp"
  trap 'rm -rf "$GOCACHE"' EXIT
fi

if [ -f "$STAMP" ]; then
  echo "control plane $K8S_VERSION / kwok $KWOK_VERSION: cached" >&2
  echo "$BIN"
  exit 0
fi

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
start=$(date +%s)

if ! command -v jq >/dev/null; then
  log "installing jq"
  apt-get install -y jq >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y jq >/dev/null; }
fi
command -v go >/dev/null || { echo "go is required to build the control plane" >&2; exit 1; }

mkdir -p "$BIN" "$WRAPPER"
cd "$WRAPPER"
[ -f go.mod ] || go mod init example.invalid/koinos-e2e-control-plane >&2

# Kubernetes' go.mod requires its staging modules at v0.0.0 with `replace => ./staging/...`;
# replaces of a dependency are ignored, so the wrapper pins each one to its published tag.
log "reading k8s.io/kubernetes@$K8S_VERSION go.mod"
KMOD=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
go mod edit -go="$(go mod edit -json "$KMOD" | jq -r .Go)"
for kv in $(go mod edit -json "$KMOD" | jq -r '(.GoDebug // .Godebug // [])[] | "\(.Key)=\(.Value)"'); do
  go mod edit -godebug="$kv"
done
staging=$(go mod edit -json "$KMOD" | jq -r '([.Require[]? | select(.Version=="v0.0.0") | .Path]
          + [.Replace[]? | select(.New.Path|startswith("./staging/")) | .Old.Path]) | unique[]')
log "pinning $(echo "$staging" | wc -l) staging modules to $STAGING"
for m in $staging; do
  go mod edit -replace="$m=$m@$STAGING"
done
go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
# etcd at exactly the version Kubernetes was tested with.
ETCD_VERSION=$(go mod edit -json "$KMOD" | jq -r '.Require[] | select(.Path=="go.etcd.io/etcd/server/v3") | .Version')
go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"

ver=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ver="$ver -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl"
GOFLAGS=-mod=mod go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags="-s -w $ver" -o "$BIN/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
log "building etcd $ETCD_VERSION"
GOFLAGS=-mod=mod go build -trimpath -ldflags="-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3

# kwok in its own module, at the dependency versions it was tested with.
log "building kwok $KWOK_VERSION"
(cd / && GOFLAGS= GOBIN="$BIN" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
KWOK_DIR=$(cd / && GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | jq -r .Dir)
STAGES="$KWOK_DIR/kustomize/stage"
: > "$ROOT/kwok-stages.yaml"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  [ -f "$STAGES/$f" ] || { echo "kwok stage $f missing; available:" >&2; find "$STAGES" -name '*.yaml' >&2; exit 1; }
  { cat "$STAGES/$f"; echo '---'; } >> "$ROOT/kwok-stages.yaml"
done

"$BIN/kube-apiserver" --version >&2
"$BIN/etcd" --version >&2
"$BIN/kwok" --version >&2 || true
touch "$STAMP"
log "built in $(( $(date +%s) - start )) s"
echo "$BIN"
