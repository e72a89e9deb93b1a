//! Chain benchmark: signed KCS-4 token transfers applied per second (every signature verified,
//! blocks stored durably), against the single-core secp256k1 public-key recovery rate measured
//! in the same run. Goal: transfers/s >= 0.5 x recoveries/s. Then the same transfers through
//! the WASM token built by the official toolchain (`target/contracts/koin.wasm`, from
//! `compat/contracts/build.sh`; skipped with a note when absent), as a ratio to the native
//! token's rate, with the VM ticks a transfer costs.
//!
//! `cargo bench -p koinos-services --bench chain [-- <blocks> <transfers per block>]`

use std::time::{Duration, Instant};

use koinos_protocol::crypto::{PrivateKey, recover_public_key, sha256};
use koinos_protocol::pb::koinos::contracts::token::MintArguments;
use koinos_protocol::pb::koinos::protocol::{Operation, UploadContractOperation, operation::Op};
use koinos_services::chain::builder;
use koinos_services::chain::token::entry;
use koinos_services::chain::{Chain, ForkAlgorithm, devnet};
use prost::Message;

const ACCOUNTS: usize = 1000;
const RC_LIMIT: u64 = 10_000_000;

fn recover_rate(samples: usize) -> f64 {
    let key = PrivateKey::from_seed("recover baseline");
    let signed: Vec<([u8; 32], [u8; 65])> = (0..samples)
        .map(|i| {
            let digest = sha256(&i.to_le_bytes());
            (digest, key.sign_digest(&digest))
        })
        .collect();
    let started = Instant::now();
    for (digest, signature) in &signed {
        let address = recover_public_key(digest, signature)
            .expect("valid signature")
            .address();
        std::hint::black_box(address);
    }
    samples as f64 / started.elapsed().as_secs_f64()
}

/// Transfers between `accounts` in `blocks` blocks of `per_block`: (transfers per second of
/// block application, compute used per transfer).
fn transfer_rate(
    chain: &mut Chain,
    token: &[u8],
    accounts: &[PrivateKey],
    nonces: &mut [u64],
    producer: &PrivateKey,
    blocks: usize,
    per_block: usize,
) -> (f64, u64) {
    let chain_id = chain.chain_id().to_vec();
    let mut applying = Duration::ZERO;
    let mut transfers = 0usize;
    let mut compute = 0u64;
    let mut timestamp = chain.head().timestamp.max(1_700_000_000_000);
    for block_index in 0..blocks {
        let transactions = (0..per_block)
            .map(|i| {
                let from = (block_index * per_block + i) % accounts.len();
                let to = (from + 1) % accounts.len();
                nonces[from] += 1;
                let op = builder::transfer_operation(
                    token,
                    accounts[from].address().as_bytes(),
                    accounts[to].address().as_bytes(),
                    1,
                );
                builder::transaction(&chain_id, &accounts[from], nonces[from], RC_LIMIT, vec![op])
            })
            .collect();
        timestamp += 1000;
        let block = builder::block(chain.head(), timestamp, transactions, producer);
        let started = Instant::now();
        let committed = chain
            .submit_block(&block, timestamp)
            .expect("block applies")
            .expect("new block");
        applying += started.elapsed();
        let receipts = &committed.receipt.transaction_receipts;
        assert!(
            receipts.iter().all(|r| !r.reverted),
            "a transfer reverted: {:?}",
            receipts.iter().find(|r| r.reverted).map(|r| &r.logs)
        );
        compute += receipts
            .iter()
            .map(|r| r.compute_bandwidth_used)
            .sum::<u64>();
        transfers += per_block;
    }
    (
        transfers as f64 / applying.as_secs_f64(),
        compute / transfers as u64,
    )
}

/// One block with `operations` in one transaction paid and signed by `signer`.
fn apply_setup(
    chain: &mut Chain,
    signer: &PrivateKey,
    nonce: u64,
    producer: &PrivateKey,
    operations: Vec<Operation>,
) {
    let tx = builder::transaction(
        chain.chain_id(),
        signer,
        nonce,
        1_000_000_000_000,
        operations,
    );
    let timestamp = chain.head().timestamp.max(1_700_000_000_000) + 1000;
    let block = builder::block(chain.head(), timestamp, vec![tx], producer);
    let committed = chain
        .submit_block(&block, timestamp)
        .expect("setup block")
        .expect("new block");
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(!receipt.reverted, "setup reverted: {:?}", receipt.logs);
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let blocks: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let per_block: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);

    let producer = PrivateKey::from_seed("bench producer");
    let token = PrivateKey::from_seed("bench token").address().to_vec();
    let accounts: Vec<PrivateKey> = (0..ACCOUNTS)
        .map(|i| PrivateKey::from_seed(&format!("account {i}")))
        .collect();
    let balances: Vec<(Vec<u8>, u64)> = accounts
        .iter()
        .map(|k| (k.address().to_vec(), 1_000_000_000))
        .collect();
    let genesis = devnet::genesis(
        producer.address().as_bytes(),
        &token,
        devnet::DevnetToken::Native,
        &balances,
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut chain = Chain::open(dir.path(), &genesis, ForkAlgorithm::Fifo).expect("open chain");

    let mut nonces = vec![0u64; ACCOUNTS];
    let (native_rate, native_compute) = transfer_rate(
        &mut chain,
        &token,
        &accounts,
        &mut nonces,
        &producer,
        blocks,
        per_block,
    );
    let transfers = blocks * per_block;
    let baseline = recover_rate(transfers.min(5000));

    println!(
        "chain benchmark: {blocks} blocks x {per_block} signed transfers, {ACCOUNTS} accounts, durable commits"
    );
    println!("secp256k1 recover (single core): {baseline:>10.0} /s");
    println!(
        "transfers applied:               {native_rate:>10.0} /s  ({native_compute} compute each)"
    );
    println!(
        "ratio transfers / recover:       {:>10.2} (goal >= 0.50)",
        native_rate / baseline
    );

    // The same transfers through the WASM token.
    let wasm =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/contracts/koin.wasm");
    let Ok(bytecode) = std::fs::read(&wasm) else {
        println!(
            "WASM token: {} missing (compat/contracts/build.sh); not measured",
            wasm.display()
        );
        return;
    };
    let koin = PrivateKey::from_seed("bench wasm koin");
    let koin_id = koin.address().to_vec();
    let upload = Operation {
        op: Some(Op::UploadContract(UploadContractOperation {
            contract_id: koin_id.clone(),
            bytecode,
            ..Default::default()
        })),
    };
    apply_setup(&mut chain, &koin, 1, &producer, vec![upload]);
    for (batch, chunk) in accounts.chunks(20).enumerate() {
        let mints = chunk
            .iter()
            .map(|account| {
                let args = MintArguments {
                    to: account.address().to_vec(),
                    value: 1_000_000_000,
                    memo: None,
                };
                builder::call_operation(&koin_id, entry::MINT, args.encode_to_vec())
            })
            .collect();
        apply_setup(&mut chain, &koin, batch as u64 + 2, &producer, mints);
    }
    // A WASM transfer costs about 1.2 M ticks (the AssemblyScript runtime's start-up
    // included), so a block's 100 M compute holds about 80 of them.
    let wasm_per_block = per_block.min(40);
    let wasm_blocks = (blocks * per_block).div_ceil(wasm_per_block).min(25);
    let (wasm_rate, wasm_compute) = transfer_rate(
        &mut chain,
        &koin_id,
        &accounts,
        &mut nonces,
        &producer,
        wasm_blocks,
        wasm_per_block,
    );
    println!(
        "WASM token transfers applied:    {wasm_rate:>10.0} /s  ({wasm_compute} compute each; {wasm_blocks} blocks x {wasm_per_block})"
    );
    println!(
        "ratio WASM / native transfers:   {:>10.2}   WASM transfers / recover: {:.2}",
        wasm_rate / native_rate,
        wasm_rate / baseline
    );
}
