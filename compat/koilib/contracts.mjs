// koilib deploys and drives a contract built by the official AssemblyScript toolchain
// (compat/contracts: the `counter` contract) on the devnet: Contract.deploy(), a write method
// with the owner's authority and its event decoded from the receipt, a read method, and
// check_authority refusing a forged owner.
//
// Inputs (environment):
//   KOINOS_RPC_URL        JSON-RPC URL
//   KOINOS_DEVNET_DIR     directory written by `koinos-devnet init` (devnet.json)
//   KOINOS_CONTRACTS_DIR  the output of compat/contracts/build.sh (counter.wasm, counter-abi.json)
// Exits non-zero, naming the failed checks, on any mismatch.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Contract, Provider, Signer } from "koilib";

const rpcUrl = process.env.KOINOS_RPC_URL ?? "http://127.0.0.1:8080/";
const devnetDir = process.env.KOINOS_DEVNET_DIR;
const contractsDir = process.env.KOINOS_CONTRACTS_DIR;
if (!devnetDir || !contractsDir) {
  console.error("KOINOS_DEVNET_DIR and KOINOS_CONTRACTS_DIR must be set");
  process.exit(2);
}
const devnet = JSON.parse(readFileSync(join(devnetDir, "devnet.json"), "utf8"));

let failures = 0;
function check(name, condition, detail = "") {
  console.log(`${condition ? "ok  " : "FAIL"} ${name}${condition ? "" : ` ${detail}`}`);
  if (!condition) failures += 1;
}

const provider = new Provider([rpcUrl]);
const bytecode = readFileSync(join(contractsDir, "counter.wasm"));
const abi = JSON.parse(readFileSync(join(contractsDir, "counter-abi.json"), "utf8"));
// The ABI generator writes the Koinos CLI's method shape (entryPoint, input, output,
// readOnly) and no `events` section; koilib reads entry_point, argument, return, read_only,
// and decodes an event by its name from `events`.
for (const method of Object.values(abi.methods)) {
  method.entry_point = method.entryPoint;
  method.argument = method.input;
  method.return = method.output;
  method.read_only = method.readOnly;
}
abi.events = { "counter.incremented": { argument: "counter.incremented_event" } };

// The contract's own key deploys it (its address is the contract id) and pays.
const contractKey = Signer.fromSeed(randomBytes(16).toString("hex"));
contractKey.provider = provider;
const deployer = new Contract({ id: contractKey.getAddress(), abi, provider, signer: contractKey, bytecode });
const deployed = await deployer.deploy({ abi: JSON.stringify(abi) });
check("deploy: receipt not reverted", deployed.receipt && !deployed.receipt.reverted, JSON.stringify(deployed.receipt));
await deployed.transaction.wait("byTransactionId", 30000);

// The owner increments its own counter.
const owner = Signer.fromWif(devnet.funded_account_wif);
owner.provider = provider;
const counter = new Contract({ id: contractKey.getAddress(), abi, provider, signer: owner });
const from = owner.getAddress();
const { transaction, receipt } = await counter.functions.increment({ owner: from, amount: "5" });
check("increment: receipt not reverted", receipt && !receipt.reverted, JSON.stringify(receipt));
const events = receipt?.events ?? [];
check("increment: one event", events.length === 1, JSON.stringify(events));
check("increment: event name", events[0]?.name === "counter.incremented", JSON.stringify(events[0]));
check("increment: event source is the contract", events[0]?.source === contractKey.getAddress(), events[0]?.source);
const decoded = events[0] ? await counter.decodeEvent(events[0]) : undefined;
check("increment: event decodes with the ABI", decoded?.args?.value === "5", JSON.stringify(decoded));
await transaction.wait("byTransactionId", 30000);

const { result } = await counter.functions.get({ owner: from });
check("get: the stored value", result?.value === "5", JSON.stringify(result));
check("get: one update", result?.updates === "1", JSON.stringify(result));

// Someone else signs an increment of the owner's counter: check_authority refuses it.
const forger = Signer.fromSeed(randomBytes(16).toString("hex"));
forger.provider = provider;
const forged = new Contract({ id: contractKey.getAddress(), abi, provider, signer: forger });
let refused = "";
try {
  const r = await forged.functions.increment({ owner: from, amount: "1" });
  refused = r.receipt?.reverted ? JSON.stringify(r.receipt.logs) : "";
} catch (error) {
  refused = String(error.message ?? error);
}
check("a forged owner is refused", refused.includes("owner has not authorized the increment"), refused);
const after = await counter.functions.get({ owner: from });
check("the counter is unchanged after the forged call", after.result?.value === "5", JSON.stringify(after.result));

if (failures > 0) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("all contract checks passed");
