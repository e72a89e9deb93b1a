#!/usr/bin/env bash
# Builds what a REAL single Kubernetes node needs beside the control plane, into a cache outside
# the repo (a second run is a cache hit):
#   - kubelet, kube-proxy: in the control plane's wrapper module (same Kubernetes version, flags)
#   - CoreDNS and local-path-provisioner: from the Go module proxy (their go.mod has no replaces)
#   - two infrastructure images, made without any registry, saved as tars in the images dir:
#       localhost/koinos/pause:v1.36.3   Kubernetes' own pause.c, gcc -static   -> pause.tar
#       localhost/koinos/busybox:local   Debian's busybox-static + applet links  -> busybox.tar
#     Each tar is an OCI image layout that is also a `docker load`-able archive.
#
#   K8S_VERSION        (default v1.36.3)  must match the control plane
#   COREDNS_VERSION    (default v1.15.0)
#   LPP_VERSION        (default v0.0.30)  local-path-provisioner
#   E2E_CACHE          (default ~/.cache/koinos-e2e); binaries land in $E2E_CACHE/$K8S_VERSION/node-bin
#   KOINOS_IMAGES_DIR  (default ~/.cache/koinos-images); image tars land here
#   E2E_NODE_STEPS     (default "kube coredns lpp images") build only these steps
#
# Prints the node bin directory on the last line of stdout.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
LPP_VERSION="${LPP_VERSION:-v0.0.30}"
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
CACHE="${E2E_CACHE:-$HOME/.cache/koinos-e2e}"
ROOT="$CACHE/$K8S_VERSION"
NBIN="$ROOT/node-bin"
WRAPPER="$ROOT/wrapper"
IMAGES="${KOINOS_IMAGES_DIR:-$HOME/.cache/koinos-images}"
STEPS="${E2E_NODE_STEPS:-kube coredns lpp images}"
IMAGES_REV=1 # bump when the image recipe below changes
STAMP="$ROOT/.complete-node-coredns-$COREDNS_VERSION-lpp-$LPP_VERSION-images-$IMAGES_REV"

export GOTOOLCHAIN=local CGO_ENABLED=0
if [ "${CI:-}" = "true" ]; then
  export GOCACHE="$CACHE/go-build-tmp-node"
  trap 'rm -rf "$GOCACHE"' EXIT
fi

# Cache hit only if the images are still there too (the images dir is shared and may be cleaned).
if [ -f "$STAMP" ] && [ -f "$IMAGES/pause.tar" ] && [ -f "$IMAGES/busybox.tar" ]; then
  echo "node $K8S_VERSION / coredns $COREDNS_VERSION / local-path $LPP_VERSION: cached" >&2
  echo "$NBIN"
  exit 0
fi

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
start=$(date +%s)
mkdir -p "$NBIN" "$IMAGES"
want() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
timed() { # step-name command...: runs it, logs its duration
  local t=$(date +%s)
  "$@"
  log "$1 took $(( $(date +%s) - t )) s"
}

step_kube() {
  # The wrapper module (pinned staging modules) comes from the control plane build; cache hit if done.
  bash "$HERE/../control-plane/build.sh" >/dev/null
  local ver="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ver="$ver -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  log "building kubelet, kube-proxy $K8S_VERSION"
  (cd "$WRAPPER" && GOFLAGS=-mod=mod nice go build -trimpath -tags=selinux,notest,grpcnotrace \
    -ldflags="-s -w $ver" -o "$NBIN/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
}

step_coredns() {
  # Neither module has replace directives, so `go install mod@version` builds them as released.
  log "building coredns $COREDNS_VERSION"
  (cd / && GOFLAGS= GOBIN="$NBIN" nice go install -trimpath \
    -ldflags="-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
    "github.com/coredns/coredns@$COREDNS_VERSION")
}

step_lpp() {
  log "building local-path-provisioner $LPP_VERSION"
  (cd / && GOFLAGS= GOBIN="$NBIN" nice go install -trimpath \
    -ldflags="-s -w -X main.VERSION=$LPP_VERSION" "github.com/rancher/local-path-provisioner@$LPP_VERSION")
}

# oci_image REF ROOTFS OUT.tar CMD-JSON: one uncompressed layer; writes an OCI layout with a
# docker-archive manifest.json beside it, so both `ctr images import` and `docker load` take it.
oci_image() {
  local ref="$1" rootfs="$2" out="$3" cmd="$4" d layer cfg man lsz csz msz
  d="$(mktemp -d)"
  mkdir -p "$d/blobs/sha256"
  tar -C "$rootfs" --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -cf "$d/layer.tar" .
  layer="$(sha256sum "$d/layer.tar" | cut -d' ' -f1)"
  lsz="$(stat -c %s "$d/layer.tar")"
  mv "$d/layer.tar" "$d/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$cmd" "$layer" > "$d/cfg"
  cfg="$(sha256sum "$d/cfg" | cut -d' ' -f1)"
  csz="$(stat -c %s "$d/cfg")"
  mv "$d/cfg" "$d/blobs/sha256/$cfg"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$csz" "$layer" "$lsz" > "$d/man"
  man="$(sha256sum "$d/man" | cut -d' ' -f1)"
  msz="$(stat -c %s "$d/man")"
  mv "$d/man" "$d/blobs/sha256/$man"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man" "$msz" "$ref" "${ref##*:}" > "$d/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
  printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s"],"Layers":["blobs/sha256/%s"]}]' "$cfg" "$ref" "$layer" > "$d/manifest.json"
  tar -C "$d" --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$d"
  log "image $ref -> $out"
}

step_images() {
  command -v gcc >/dev/null || { echo "gcc is required to build the pause image" >&2; exit 1; }
  [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && ! ldd /bin/busybox >/dev/null 2>&1 ||
    { log "installing busybox-static"; apt-get install -y busybox-static >/dev/null; }
  local tmp kdir a
  tmp="$(mktemp -d)"
  # pause: the sandbox image every pod needs; Kubernetes' own source, built like its Makefile does.
  kdir="$(cd / && GOFLAGS= go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)"
  mkdir -p "$tmp/pause"
  gcc -static -Os -Wall -Werror -DVERSION="$K8S_VERSION-koinos" -o "$tmp/pause/pause" "$kdir/build/pause/linux/pause.c"
  strip "$tmp/pause/pause"
  oci_image "localhost/koinos/pause:$K8S_VERSION" "$tmp/pause" "$IMAGES/pause.tar" '["/pause"]'
  # busybox: used by local-path-provisioner's helper pods and by tests.
  mkdir -p "$tmp/bb/bin" "$tmp/bb/etc" "$tmp/bb/tmp" "$tmp/bb/root"
  chmod 1777 "$tmp/bb/tmp"
  cp /bin/busybox "$tmp/bb/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$tmp/bb/bin/$a"; done
  ln -s bin "$tmp/bb/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nnonroot:x:65532:65532:nonroot:/:/bin/false\n' > "$tmp/bb/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$tmp/bb/etc/group"
  oci_image "localhost/koinos/busybox:local" "$tmp/bb" "$IMAGES/busybox.tar" '["sh"]'
  rm -rf "$tmp"
}

want coredns && timed step_coredns
want lpp && timed step_lpp
want images && timed step_images
want kube && timed step_kube

if [ "$STEPS" = "kube coredns lpp images" ]; then
  for b in kubelet kube-proxy coredns local-path-provisioner; do
    [ -x "$NBIN/$b" ] || { echo "missing $NBIN/$b after build" >&2; exit 1; }
  done
  "$NBIN/kubelet" --version >&2
  "$NBIN/coredns" -version >&2 | head -2
  touch "$STAMP"
fi
log "built in $(( $(date +%s) - start )) s"
echo "$NBIN"
