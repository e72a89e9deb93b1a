#!/usr/bin/env bash
# Prints the Argo CD health of one live KoinosCluster as "<status>: <message>", evaluated by the
# shipped health.lua under Lua 5.1, e.g.
#   kubectl get kc devnet -o json | bash manifests/argocd/health.sh -
# (for end-to-end tests that compare the health check with what the operator really reports).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
object=$(mktemp)
trap 'rm -f "$object"' EXIT
python3 "$here/yaml2lua.py" --object "${1:--}" >"$object"
lua5.1 -e "obj = dofile('$object')
local hs = dofile('$here/koinos.io/KoinosCluster/health.lua')
print(hs.status .. ': ' .. hs.message)"
