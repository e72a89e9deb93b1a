#!/usr/bin/env bash
# koilib compatibility check: starts a devnet of our six services (on a private RabbitMQ vhost
# so it cannot collide with anything else on the broker), runs test.mjs with koilib from npm
# (pinned by package-lock.json) against its JSON-RPC, and stops everything. Fails on any
# mismatch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

bash scripts/ensure-rabbitmq.sh
cargo build -p koinos-services --bins
bin="$root/target/debug"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

vhost="koilib-compat-$$"
rabbitmqctl -q add_vhost "$vhost"
rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*'
basedir="$(mktemp -d /tmp/koinos-koilib.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
devnet_pid=""
cleanup() {
  status=$?
  if [ -n "$devnet_pid" ]; then
    kill "$devnet_pid" 2>/dev/null || true
    wait "$devnet_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    echo "--- devnet logs ($basedir) ---" >&2
    tail -n 40 "$basedir"/logs/*.log >&2 2>/dev/null || true
  fi
  rabbitmqctl -q delete_vhost "$vhost" || true
  rm -rf "$basedir"
  exit "$status"
}
trap cleanup EXIT INT TERM

"$bin/koinos-devnet" init --basedir "$basedir" \
  --amqp "amqp://guest:guest@127.0.0.1:5672/$vhost" \
  --listen "127.0.0.1:$port" --block-interval-ms 1000
"$bin/koinos-devnet" run --basedir "$basedir" --bin-dir "$bin" --quiet &
devnet_pid=$!

url="http://127.0.0.1:$port/"
for _ in $(seq 1 60); do
  if curl -fs -m 2 -X POST -d '{"jsonrpc":"2.0","id":1,"method":"chain.get_head_info","params":{}}' "$url" \
      | grep -q '"result"'; then
    break
  fi
  sleep 1
done
KOINOS_RPC_URL="$url" KOINOS_DEVNET_DIR="$basedir" node "$here/test.mjs"
# A contract built by the official toolchain, deployed and called by koilib.
bash "$root/compat/contracts/build.sh" >/dev/null
KOINOS_RPC_URL="$url" KOINOS_DEVNET_DIR="$basedir" \
  KOINOS_CONTRACTS_DIR="${KOINOS_CONTRACTS_DIR:-$root/target/contracts}" node "$here/contracts.mjs"
