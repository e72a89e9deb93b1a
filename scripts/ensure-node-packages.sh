#!/usr/bin/env bash
# Installs the Debian packages the real-pods tier and the demo need when any is missing: the
# image builder (docker.io, with its BuildKit-capable 20.10 CLI), the node's runtime (containerd,
# runc), CNI plugins, conntrack and iptables for kube-proxy, debootstrap for the RabbitMQ image's
# base, busybox-static for the PV provisioner's helper image, jq, curl and iproute2; promtool
# (Debian's prometheus package, without its recommended node exporter, which would take port
# 9100) for the chart's alert rules and their unit tests.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# command -> package
need=(dockerd:docker.io containerd:containerd runc:runc conntrack:conntrack iptables:iptables
  debootstrap:debootstrap busybox:busybox-static jq:jq curl:curl ip:iproute2)
missing=()
for pair in "${need[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
done
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -eq 0 ]; then
  echo "node packages: present"
  exit 0
fi
echo "node packages: installing ${missing[*]}"
apt-get update -qq
# policy-rc.d-less machines may try to start dockerd/containerd on install; the scripts start
# their own instances, so a failed start at install time is harmless.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
