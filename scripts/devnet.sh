#!/usr/bin/env bash
# Starts a private, producing single-node Koinos network in one step: ensures the local
# RabbitMQ, builds the services, writes a devnet (genesis with a new genesis key and the token
# contract, keys, config.yml) under $KOINOS_DEVNET_DIR (default target/devnet) unless one is
# already there, then runs chain, block_store, mempool, transaction_store, contract_meta_store,
# account_history, block_producer and jsonrpc as processes, prints the JSON-RPC URL and follows
# the blocks being produced.
#
#   scripts/devnet.sh            # release build, keeps an existing devnet
#   scripts/devnet.sh --reset    # write a fresh devnet (new keys, empty chain)
#   DEVNET_PROFILE=debug scripts/devnet.sh
#   KOINOS_DEVNET_CONSENSUS=pob scripts/devnet.sh --reset   # proof of burn (docs/protocol.md)
# Stop with Ctrl-C: every service is stopped with it.
set -euo pipefail
cd "$(dirname "$0")/.."

basedir="${KOINOS_DEVNET_DIR:-$PWD/target/devnet}"
profile="${DEVNET_PROFILE:-release}"
reset=false
for arg in "$@"; do
  case "$arg" in
    --reset) reset=true ;;
    *) echo "usage: $0 [--reset]" >&2; exit 2 ;;
  esac
done

bash scripts/ensure-rabbitmq.sh

if [ "$profile" = release ]; then
  cargo build --release -p koinos-services --bins
else
  cargo build -p koinos-services --bins
fi
bin="$PWD/target/$profile"

if $reset || [ ! -f "$basedir/devnet.json" ]; then
  rm -rf "$basedir"
  "$bin/koinos-devnet" init --basedir "$basedir" --consensus "${KOINOS_DEVNET_CONSENSUS:-federated}"
fi
exec "$bin/koinos-devnet" run --basedir "$basedir" --bin-dir "$bin"
