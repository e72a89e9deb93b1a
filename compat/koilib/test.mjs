// Drives our JSON-RPC gateway with the standard Koinos JavaScript client, koilib, unchanged:
// Provider (head info, chain id, blocks by height, nonce, rc), Signer (signing and sending a
// transaction) and Contract with utils.tokenAbi (token reads and transfers awaited with wait(),
// three in consecutive blocks with koilib's default rc_limit: the account's whole mana).
//
// Inputs (environment):
//   KOINOS_RPC_URL     JSON-RPC URL, e.g. http://127.0.0.1:8080/
//   KOINOS_DEVNET_DIR  directory written by `koinos-devnet init` (keys/, devnet.json)
// Exits non-zero, naming the failed checks, on any mismatch.
//
// package.json pins protobufjs to 7.4.0 (the lowest koilib 9.1.1 accepts): newer protobufjs
// resolves extensions eagerly in Root.fromJSON, and koilib's Serializer drops the google
// descriptor when merging it with `utils.tokenAbi.koilib_types`, so `new Contract({abi:
// utils.tokenAbi})` throws "unresolvable extensions" with them, whatever the server does.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Contract, Provider, Signer, utils } from "koilib";

const rpcUrl = process.env.KOINOS_RPC_URL ?? "http://127.0.0.1:8080/";
const devnetDir = process.env.KOINOS_DEVNET_DIR;
if (!devnetDir) {
  console.error("KOINOS_DEVNET_DIR must point at the directory `koinos-devnet init` wrote");
  process.exit(2);
}
const devnet = JSON.parse(readFileSync(join(devnetDir, "devnet.json"), "utf8"));

let failures = 0;
function check(name, condition, detail = "") {
  if (condition) {
    console.log(`ok   ${name}`);
  } else {
    failures += 1;
    console.log(`FAIL ${name} ${detail}`);
  }
}
const show = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
function equal(name, actual, expected) {
  check(name, actual === expected, `: got ${show(actual)}, want ${show(expected)}`);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const provider = new Provider([rpcUrl]);

// Head info: wait until the producer has made a few blocks.
let head = await provider.getHeadInfo();
for (let i = 0; i < 60 && Number(head.head_topology.height ?? 0) < 3; i++) {
  await sleep(500);
  head = await provider.getHeadInfo();
}
const headHeight = Number(head.head_topology.height);
check("getHeadInfo: chain is producing (height >= 3)", headHeight >= 3, `height ${headHeight}`);
check("getHeadInfo: head id is a 0x1220 multihash", /^0x1220[0-9a-f]{64}$/.test(head.head_topology.id));
check("getHeadInfo: head_block_time is a numeric string", /^[0-9]+$/.test(head.head_block_time ?? ""));
check(
  "getHeadInfo: last_irreversible_block is a numeric string or absent at genesis",
  head.last_irreversible_block === undefined || /^[0-9]+$/.test(head.last_irreversible_block),
);

// Chain id.
const chainId = await provider.getChainId();
equal("getChainId matches the devnet genesis", chainId, devnet.chain_id);

// Blocks by height: a linked sequence from height 1.
const blocks = await provider.getBlocks(1, 3);
equal("getBlocks returns 3 block items", blocks.length, 3);
blocks.forEach((item, i) => {
  equal(`getBlocks item ${i} height`, Number(item.block_height), i + 1);
  equal(`getBlocks item ${i} id matches its block`, item.block.id, item.block_id);
  if (i > 0) equal(`getBlocks item ${i} links to its parent`, item.block.header.previous, blocks[i - 1].block_id);
});
equal("block 1 links to the zero id", blocks[0].block.header.previous, "0x1220" + "0".repeat(64));
equal("block signer is the devnet producer", blocks[0].block.header.signer, devnet.producer_address);
const single = await provider.getBlock(2);
equal("getBlock(2) returns block 2", single.block_id, blocks[1].block_id);

// Token reads through Contract with utils.tokenAbi.
const signer = Signer.fromWif(devnet.funded_account_wif);
signer.provider = provider;
const token = new Contract({ id: devnet.token_contract_id, abi: utils.tokenAbi, provider, signer });
const { result: info } = await token.functions.getInfo();
equal("token getInfo name", info.name, devnet.token_name);
equal("token getInfo symbol", info.symbol, devnet.token_symbol);
equal("token getInfo decimals", info.decimals, devnet.token_decimals);
const { result: symbol } = await token.functions.symbol();
equal("token symbol", symbol.value, devnet.token_symbol);

const from = signer.getAddress();
const to = Signer.fromSeed(randomBytes(16).toString("hex")).getAddress();
const balanceOf = async (owner) => BigInt((await token.functions.balanceOf({ owner })).result.value);
const fromBefore = await balanceOf(from);
const toBefore = await balanceOf(to);
check("funded account has a balance", fromBefore > 0n, `balance ${fromBefore}`);
equal("a fresh account has balance 0 (default_output)", toBefore, 0n);
const nonceBefore = Number(await provider.getNonce(from));
const rc = BigInt(await provider.getAccountRc(from));
check("funded account has mana (rc)", rc > 0n, `rc ${rc}`);

// Transfer, sent by the Signer through chain.submit_transaction, then wait() for inclusion.
const amount = 12345n;
const { transaction, receipt } = await token.functions.transfer({ from, to, value: amount.toString() });
check("transfer receipt is not reverted", receipt && !receipt.reverted, JSON.stringify(receipt));
equal("receipt id is the transaction id", receipt.id, transaction.id);
const { blockId, blockNumber } = await transaction.wait("byTransactionId", 30000);
check("wait() returns the including block", /^0x1220[0-9a-f]{64}$/.test(blockId), blockId);
check("wait() returns its height", blockNumber > headHeight - 1, `block ${blockNumber}`);
const { block_items: [included] = [] } = await provider.getBlocksById([blockId]);
check(
  "the including block carries the transaction",
  (included?.block?.transactions ?? []).some((tx) => tx.id === transaction.id),
);

equal("sender balance decreased by the amount", await balanceOf(from), fromBefore - amount);
equal("receiver balance increased by the amount", await balanceOf(to), toBefore + amount);
equal("sender nonce increased by one", Number(await provider.getNonce(from)), nonceBefore + 1);
const [txItem] = (await provider.getTransactionsById([transaction.id])).transactions ?? [];
equal("transaction_store knows the transaction", txItem?.transaction?.id, transaction.id);

// A second and a third transfer from the same account, each sent as soon as the previous one
// is included, with koilib's defaults: rc_limit is the account's whole mana each time (the
// mempool must not charge the included transfer again until it becomes irreversible).
let previousBlock = blockNumber;
for (const n of [2, 3]) {
  const rcNow = BigInt(await provider.getAccountRc(from));
  let sent;
  try {
    sent = await token.functions.transfer({ from, to, value: amount.toString() });
  } catch (error) {
    check(`transfer ${n} right after the previous one's block is accepted`, false, `: ${error.message ?? error}`);
    break;
  }
  check(`transfer ${n} right after the previous one's block is accepted`, true);
  equal(`transfer ${n} rc_limit is the whole mana (koilib's default)`, BigInt(sent.transaction.header?.rc_limit ?? 0), rcNow);
  const { blockNumber: next } = await sent.transaction.wait("byTransactionId", 30000);
  check(`transfer ${n} is included in a later block`, next > previousBlock, `block ${next} after ${previousBlock}`);
  previousBlock = next;
}
equal("receiver balance after three transfers", await balanceOf(to), toBefore + 3n * amount);
equal("sender nonce after three transfers", Number(await provider.getNonce(from)), nonceBefore + 3);

// A transfer from someone else's account reverts and is reported as an error.
let rejected = false;
try {
  await token.functions.transfer({ from: to, to: from, value: "1" });
} catch (error) {
  rejected = true;
}
check("a transfer not authorized by `from` is rejected", rejected);

if (failures > 0) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("koilib compatibility: all checks passed");
