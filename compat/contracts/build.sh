#!/usr/bin/env bash
# Builds real Koinos smart contracts with the official AssemblyScript toolchain from npm (pinned
# by package-lock.json) for our WebAssembly VM:
#   koin.wasm     KCS-4 token of @koinosbox/contracts named Koin/KOIN (the devnet's KOIN; must equal
#                 the copy shipped in protocol/contracts/, which every run checks)
#   vhp.wasm      the same token named Virtual Hash Power/VHP (a pob devnet's VHP; shipped too)
#   pob.wasm      our proof-of-burn consensus contract (src/pob; shipped too, with its ABI)
#   token.wasm    the same token as the package ships it ("My Token"/TKN)
#   nft.wasm      the NFT (KCS-5-style collection) of @koinosbox/contracts
#   counter.wasm  our own contract (src/counter), built the way `koinos-sdk-as-cli build-all` does
#   misbehaving/  hand-written WAT (trap, infinite loop, unbounded recursion, out-of-bounds store,
#                 a float module, a sign-extension module) and two files that are not valid wasm
# each contract with its ABI, and features.txt/features.json: the WebAssembly features every
# module uses (features.mjs). Fails if a contract uses anything beyond the MVP, or floats, or
# if smoke.mjs (the contracts run on the official mock VM in Node) fails (smoke.txt).
#
#   bash compat/contracts/build.sh [OUT_DIR]     (or KOINOS_CONTRACTS_DIR=DIR, the variable
#                                                  vm/tests/contracts.rs reads; default
#                                                  target/contracts at the repository root)
#
# Cached: skipped when package-lock.json, the sources, the scripts, node and protoc are unchanged
# since the last successful build into OUT_DIR (hash in OUT_DIR/.stamp); `npm ci` is skipped
# when node_modules was installed from the same package-lock.json. FORCE=1 rebuilds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-${KOINOS_CONTRACTS_DIR:-${KOINOS_CONTRACTS_OUT:-$root/target/contracts}}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# protoc runs the official generators (koinos-abi-proto-gen, as-proto-gen, koinos-as-gen are
# protoc plugins). The npm wrappers (@roamin/protoc, @protobuf-ts/protoc) download a protoc
# release at run time, which cannot work offline, so we use Debian's.
if ! command -v protoc >/dev/null 2>&1; then
  echo "contracts: installing protobuf-compiler (protoc)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
fi

cd "$here"
stamp="$(
  {
    node --version
    protoc --version
    sha256sum package.json package-lock.json asconfig.json build.sh features.mjs smoke.mjs
    find src -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
)"
# The devnet's KOIN ships with the protocol crate (protocol/contracts/): it must be exactly what
# this source and toolchain build, checked on every run, cached or not.
check_shipped() {
  local f
  for f in koin.wasm koin-abi.json vhp.wasm vhp-abi.json pob.wasm pob-abi.json; do
    if ! cmp -s "$out/$f" "$root/protocol/contracts/$f"; then
      echo "contracts: protocol/contracts/$f differs from the build in $out/$f;" >&2
      echo "  after changing src/ or the pinned toolchain: cp $out/$f $root/protocol/contracts/" >&2
      exit 1
    fi
  done
}
expected=(koin.wasm koin-abi.json vhp.wasm vhp-abi.json pob.wasm pob-abi.json pob.abi token.wasm token-abi.json nft.wasm nft-abi.json counter.wasm
  counter.abi counter-abi.json features.txt features.json smoke.txt)
if [ "${FORCE:-0}" != 1 ] && [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  complete=1
  for f in "${expected[@]}"; do [ -f "$out/$f" ] || complete=0; done
  if [ "$complete" = 1 ]; then
    check_shipped
    echo "contracts: up to date in $out"
    exit 0
  fi
fi
rm -f "$out/.stamp"

# npm ci only when node_modules does not come from this package-lock.json. --ignore-scripts: no
# dependency needs an install script (protobufjs' postinstall only prints warnings), and none
# may fetch anything at build time; protobufjs 6's pbjs (used by koinos-abi-proto-gen) would
# `npm install` its CLI dependencies on first use, so package.json lists them.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.koinos-lock-sha256 2>/dev/null || true)" != "$lock_hash" ]; then
  nice npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
  echo "$lock_hash" > node_modules/.koinos-lock-sha256
fi

work="$out/.work"
rm -rf "$work"
mkdir -p "$work" "$out/misbehaving"
box="$here/node_modules/@koinosbox/contracts/assembly"
bin="$here/node_modules/.bin"

# The official build flags, as koinos-sdk-as-cli `build` passes them
# (`--target release --use abort= --use BUILD_FOR_TESTING=0 --disable sign-extension`) with
# the official contracts' asconfig.json (-O3, exportStart _start, sign-extension and bulk-memory
# disabled): see README.md.
asc() {
  local entry="$1" wasm="$2"
  (cd "$(dirname "$entry")" && nice node "$here/node_modules/assemblyscript/bin/asc.js" "$(basename "$entry")" \
    --config "$here/asconfig.json" --target release \
    --use abort= --use BUILD_FOR_TESTING=0 --disable sign-extension \
    --outFile "$wasm")
}

# A work directory that resolves packages from our node_modules, as a contract project would.
project() {
  mkdir -p "$work/$1"
  ln -s "$here/node_modules" "$work/$1/node_modules"
  echo "$work/$1"
}

echo "contracts: token, nft (@koinosbox/contracts)"
asc "$box/token/index.ts" "$out/token.wasm"
cp "$box/token/token-abi.json" "$out/token-abi.json"
asc "$box/nft/index.ts" "$out/nft.wasm"
cp "$box/nft/nft-abi.json" "$out/nft-abi.json"

# A KCS-4 token of the package under another name: the package's dispatch
# (assembly/token/index.ts, generated by koinos-precompiler-as) importing src/<name>/<Class>.ts in
# place of Token; the ABI is the package's token-abi.json, since the entry points are the same.
renamed_token() {
  local name="$1" class="$2" dir
  dir="$(project "$name")"
  cp "src/$name/$class.ts" "$dir/$class.ts"
  node - "$box/token/index.ts" "$dir/index.ts" "$class" <<'EOF_NODE'
const fs = require("fs");
const [src, dst, cls] = process.argv.slice(2);
let text = fs.readFileSync(src, "utf8");
const swaps = [
  ['import { Token } from "./Token";', `import { ${cls} as Token } from "./${cls}";`],
  ['import { token } from "./proto/token";', 'import { token } from "@koinosbox/contracts";'],
];
for (const [from, to] of swaps) {
  if (text.split(from).length !== 2) throw new Error(`${src}: expected exactly one ${from}`);
  text = text.replace(from, to);
}
fs.writeFileSync(dst, "// Generated by compat/contracts/build.sh from @koinosbox/contracts/assembly/token/index.ts\n" + text);
EOF_NODE
  asc "$dir/index.ts" "$out/$name.wasm"
  cp "$box/token/token-abi.json" "$out/$name-abi.json"
}

echo "contracts: koin, vhp (the package's token dispatch around src/koin/Koin.ts, src/vhp/Vhp.ts)"
renamed_token koin Koin
renamed_token vhp Vhp

# A contract of ours with its own proto, built with the koinos-sdk-as-cli build-all steps.
sdk_project() {
  local name="$1" dir
  dir="$(project "$name")"
  cp -r "src/$name/assembly" "$dir/assembly"
  # The sdk-as-cli project template carries koinos/options.proto and google/protobuf/*.proto at
  # the project root, where the generators (which run protoc without -I) expect them.
  cp -r node_modules/@koinos/sdk-as-cli/__template__/koinos node_modules/@koinos/sdk-as-cli/__template__/google "$dir/"
  (
    cd "$dir"
    mkdir -p abi
    protoc --plugin=protoc-gen-abi="$bin/koinos-abi-proto-gen" --abi_out=abi/ "assembly/proto/$name.proto"
    protoc --plugin=protoc-gen-as="$bin/as-proto-gen" --as_out=. "assembly/proto/$name.proto"
    protoc --plugin=protoc-gen-as="$bin/koinos-as-gen" --as_out=assembly/ "assembly/proto/$name.proto"
  )
  asc "$dir/assembly/index.ts" "$out/$name.wasm"
  cp "$dir/abi/$name.abi" "$dir/abi/$name-abi.json" "$out/"
}

echo "contracts: pob (src/pob, koinos-sdk-as-cli build-all steps)"
sdk_project pob

echo "contracts: counter (koinos-sdk-as-cli build-all steps)"
sdk_project counter

echo "contracts: misbehaving modules (wabt wat2wasm, MVP only)"
mvp=(--disable-mutable-globals --disable-saturating-float-to-int --disable-sign-extension --disable-simd
  --disable-multi-value --disable-bulk-memory --disable-reference-types)
for wat in src/misbehaving/*.wat; do
  name="$(basename "$wat" .wat)"
  flags=()
  for flag in "${mvp[@]}"; do
    # sign_extension.wat is the one module meant to use a post-MVP instruction.
    [ "$name" = sign_extension ] && [ "$flag" = --disable-sign-extension ] && continue
    flags+=("$flag")
  done
  "$bin/wat2wasm" "${flags[@]}" "$wat" -o "$out/misbehaving/$name.wasm"
done
# Not WebAssembly at all: text where the \0asm magic should be.
printf 'this is not a WebAssembly module\n' > "$out/misbehaving/invalid_not_wasm.wasm"
# The right magic and version, then a type section (id 1) that claims 100 bytes and holds 2.
printf '\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x64\x01\x60' > "$out/misbehaving/invalid_truncated.wasm"

echo "contracts: WebAssembly features"
node features.mjs "$out" > "$out/features.txt"
node features.mjs --json "$out" > "$out/features.json"
{
  echo
  echo "misbehaving/ (expected: sign_extension beyond MVP, uses_float with floats, invalid_* not decoding)"
  node features.mjs "$out/misbehaving" 2>&1 || true
} >> "$out/features.txt"
grep -E '^[a-z_]+\.wasm|beyond MVP|floats:|wabt|does not decode' "$out/features.txt" | sed 's/^/  /'

echo "contracts: smoke test (Node's WebAssembly with @koinos/mock-vm as the host)"
node smoke.mjs "$out" > "$out/smoke.txt" || { cat "$out/smoke.txt"; exit 1; }
tail -n 1 "$out/smoke.txt" | sed 's/^/  /'

check_shipped
echo "$stamp" > "$out/.stamp"
ls -l "$out"/*.wasm "$out"/*.abi "$out"/*-abi.json "$out"/misbehaving/*.wasm | awk '{print "  " $5 "\t" $NF}'
echo "contracts: built into $out"
