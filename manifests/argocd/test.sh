#!/usr/bin/env bash
# Tests the Argo CD health check for KoinosCluster with a real Lua 5.1 interpreter (Argo CD runs
# health scripts on gopher-lua, which follows Lua 5.1), checks that argocd-cm.yaml ships the
# same script, and that the runner itself fails on a wrong expectation.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
check_dir="$here/koinos.io/KoinosCluster"

need_apt=()
command -v lua5.1 >/dev/null || need_apt+=(lua5.1)
python3 -c 'import yaml' 2>/dev/null || need_apt+=(python3-yaml)
if ((${#need_apt[@]})); then
  echo "argocd-health: installing ${need_apt[*]} (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The ConfigMap snippet must carry the tested script byte for byte.
python3 - "$here/argocd-cm.yaml" "$check_dir/health.lua" <<'PY'
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
key = "resource.customizations.health.koinos.io_KoinosCluster"
if cm["data"].get(key) != open(sys.argv[2]).read():
    sys.exit("argocd-health: FAIL: argocd-cm.yaml %s differs from health.lua" % key)
PY

python3 "$here/yaml2lua.py" "$check_dir" >"$work/bundle.lua"

# The runner must notice a wrong status: flip the first expectation and expect a failure.
sed '0,/\["status"\] = "Healthy"/s//["status"] = "Degraded"/' "$work/bundle.lua" >"$work/wrong.lua"
if lua5.1 "$here/run_tests.lua" "$check_dir/health.lua" "$work/wrong.lua" >/dev/null; then
  echo "argocd-health: FAIL: the runner accepted a wrong expectation" >&2
  exit 1
fi

lua5.1 "$here/run_tests.lua" "$check_dir/health.lua" "$work/bundle.lua"

# health.sh (one live object, for end-to-end tests) evaluates the same script.
got=$(bash "$here/health.sh" "$check_dir/testdata/degraded_stalled.yaml")
want="Degraded: spec.services.blockStore.autoscaling.minReplicas: 5 exceeds autoscaling.maxReplicas 2"
[[ "$got" == "$want" ]] || { echo "argocd-health: FAIL: health.sh printed '$got', want '$want'" >&2; exit 1; }
