#!/usr/bin/env node
// Smoke test of the built modules, before our VM exists: runs them in Node's WebAssembly with
// the official mock VM (@koinos/mock-vm, the JS host behind the sdk's unit tests, pinned by our
// package-lock.json) as `env.invoke_system_call`, and checks results through the ABIs.
// It proves the artifacts are real, runnable Koinos contracts; it is not a model of the chain
// (the mock has no ticks, no call depth limit of its own and no fees).
//
//   node smoke.mjs [OUT_DIR]      (default ../../target/contracts; build.sh runs it)
//
// Prints one line per check and "N passed, N failed"; exits 1 on any failure.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { MockVM } = require("@koinos/mock-vm");
const { KoinosError } = require("@koinos/mock-vm/src/errors");
const C = require("@koinos/mock-vm/src/constants");
const protobuf = require("protobufjs");
const { koinos } = require("@koinos/proto-js");

const out = path.resolve(process.argv[2] ?? path.join(here, "../../target/contracts"));
let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
}

const contractId = Uint8Array.from(Buffer.from("00".repeat(25), "hex")).map((_, i) => i + 1);
const alice = Uint8Array.from({ length: 25 }, (_, i) => 0x40 + i);
const bob = Uint8Array.from({ length: 25 }, (_, i) => 0x80 + i);

class Contract {
  constructor(file) {
    this.module = new WebAssembly.Module(fs.readFileSync(path.join(out, `${file}.wasm`)));
    const abi = JSON.parse(fs.readFileSync(path.join(out, `${file}-abi.json`), "utf8"));
    this.methods = abi.methods;
    this.root = protobuf.Root.fromJSON(abi.koilib_types ?? abi.types);
    this.vm = new MockVM(true);
    this.meta("contract_id", contractId);
    this.meta("caller", koinos.chain.caller_data.encode({ caller: new Uint8Array(0), caller_privilege: 1 }).finish());
    this.authorize([]);
  }
  meta(key, bytes) {
    this.vm.db.putObject(C.METADATA_SPACE, new TextEncoder().encode(key), bytes);
  }
  authorize(accounts) {
    const values = accounts.map((a) => ({ bytes_value: a, int32_value: 0, bool_value: true }));
    this.meta("authority", koinos.chain.list_type.encode({ values }).finish());
  }
  // Calls a method by its ABI name; returns { code, result (decoded) | message, events }.
  call(method, args = {}) {
    const m = this.methods[method];
    const entryPoint = m.entry_point ?? m.entryPoint;
    const argType = m.argument ?? m.input;
    const retType = m.return ?? m.output;
    const argBytes = argType ? this.root.lookupType(argType).encode(args).finish() : new Uint8Array(0);
    this.meta("entry_point", koinos.chain.value_type.encode({ int32_value: entryPoint | 0 }).finish());
    this.meta("contract_arguments", argBytes);
    this.vm.db.removeObject(C.METADATA_SPACE, C.CONTRACT_RESULT_KEY);
    this.vm.db.removeObject(C.METADATA_SPACE, C.EVENTS_KEY);
    this.vm.db.commitTransaction();
    const instance = new WebAssembly.Instance(this.module, { env: this.vm.getImports() });
    this.vm.setInstance(instance);
    let code = 0;
    let message = "";
    try {
      instance.exports._start();
    } catch (e) {
      if (!(e instanceof KoinosError)) throw e;
      code = e.code;
      message = e.message;
    }
    const res = this.vm.db.getObject(C.METADATA_SPACE, C.CONTRACT_RESULT_KEY);
    const events = this.vm.db.getObject(C.METADATA_SPACE, C.EVENTS_KEY);
    const eventList = events
      ? koinos.chain.list_type.decode(events.value).values.map((v) => koinos.chain.event_arguments.decode(v.bytes_value))
      : [];
    let result = null;
    if (code === 0 && retType) {
      result = this.root.lookupType(retType).toObject(
        this.root.lookupType(retType).decode(res ? res.value : new Uint8Array(0)),
        { longs: String, defaults: true },
      );
    }
    return { code, message, result, events: eventList };
  }
}

// Our counter contract: write, read, event, authority.
{
  const c = new Contract("counter");
  let r = c.call("increment", { owner: alice, amount: 5 });
  check("counter.increment without authority reverts", r.code !== 0 && /not authorized/.test(r.message), `code ${r.code} "${r.message}"`);
  c.authorize([alice]);
  r = c.call("increment", { owner: alice, amount: 5 });
  check("counter.increment(alice, 5) = 5", r.code === 0 && r.result.value === "5", JSON.stringify(r.result));
  check(
    "counter.increment emits counter.incremented for alice",
    r.events.length === 1 && r.events[0].name === "counter.incremented" && Buffer.from(r.events[0].impacted[0]).equals(Buffer.from(alice)),
  );
  r = c.call("increment", { owner: alice, amount: 3 });
  check("counter.increment(alice, 3) = 8", r.code === 0 && r.result.value === "8", JSON.stringify(r.result));
  r = c.call("get", { owner: alice });
  check("counter.get(alice) = 8 after 2 updates", r.code === 0 && r.result.value === "8" && r.result.updates === "2", JSON.stringify(r.result));
  r = c.call("get", { owner: bob });
  check("counter.get(bob) = 0", r.code === 0 && r.result.value === "0", JSON.stringify(r.result));
  r = c.call("increment", { owner: bob, amount: 1 });
  check("counter.increment(bob) with only alice's authority reverts", r.code !== 0, `code ${r.code} "${r.message}"`);
  r = c.call("reset", { owner: bob });
  check("counter.reset(bob) without bob's authority reverts", r.code !== 0, `code ${r.code} "${r.message}"`);
  r = c.call("reset", { owner: alice });
  check("counter.reset(alice) with alice's authority", r.code === 0, `code ${r.code} "${r.message}"`);
  r = c.call("get", { owner: alice });
  check("counter.get(alice) = 0 after reset", r.code === 0 && r.result.value === "0", JSON.stringify(r.result));
  r = c.call("get", { amount: 1 });
  check("counter.get without owner reverts", r.code !== 0 && /owner is required/.test(r.message), `code ${r.code} "${r.message}"`);
}

// The tokens and the NFT: read-only entry points through their shipped ABIs.
for (const [file, name, symbol] of [["koin", "Koin", "KOIN"], ["token", "My Token", "TKN"]]) {
  const t = new Contract(file);
  let r = t.call("name");
  check(`${file}.name = ${name}`, r.code === 0 && r.result.value === name, JSON.stringify(r.result));
  r = t.call("symbol");
  check(`${file}.symbol = ${symbol}`, r.code === 0 && r.result.value === symbol, JSON.stringify(r.result));
  r = t.call("decimals");
  check(`${file}.decimals = 8`, r.code === 0 && r.result.value === 8, JSON.stringify(r.result));
  r = t.call("total_supply");
  check(`${file}.total_supply = 0`, r.code === 0 && r.result.value === "0", JSON.stringify(r.result));
  r = t.call("balance_of", { owner: alice });
  check(`${file}.balance_of(alice) = 0`, r.code === 0 && r.result.value === "0", JSON.stringify(r.result));
  r = t.call("transfer", { from: alice, to: bob, value: 1 });
  check(`${file}.transfer without authority reverts`, r.code !== 0, `code ${r.code} "${r.message}"`);
}
{
  const n = new Contract("nft");
  const r = n.call("total_supply");
  check("nft.total_supply = 0", r.code === 0 && r.result.value === "0", JSON.stringify(r.result));
}

// The misbehaving modules under V8 (the infinite loop is left out: nothing here would stop it).
function runRaw(file) {
  try {
    const mod = new WebAssembly.Module(fs.readFileSync(path.join(out, "misbehaving", `${file}.wasm`)));
    const imports = { env: { invoke_system_call: () => 0 } };
    new WebAssembly.Instance(mod, imports).exports._start();
    return "returned";
  } catch (e) {
    return `${e.constructor.name}: ${e.message}`;
  }
}
for (const [file, expected] of [
  ["trap", /RuntimeError: unreachable/],
  ["oob_store", /RuntimeError: memory access out of bounds/],
  ["deep_recursion", /RangeError: Maximum call stack size exceeded/],
  ["invalid_not_wasm", /CompileError/],
  ["invalid_truncated", /CompileError/],
  ["uses_float", /^returned$/],
  ["sign_extension", /^returned$/],
]) {
  const got = runRaw(file);
  check(`misbehaving/${file}.wasm in V8: ${expected.source}`, expected.test(got), got);
}

console.log(`${passed} passed, ${failed} failed`);
if (failed) process.exitCode = 1;
