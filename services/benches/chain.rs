//! Chain benchmark: signed KCS-4 token transfers applied per second (every signature verified,
//! blocks stored durably), against the single-core secp256k1 public-key recovery rate measured
//! in the same run. Goal: transfers/s >= 0.5 x recoveries/s.
//!
//! `cargo bench -p koinos-services --bench chain [-- <blocks> <transfers per block>]`

use std::time::{Duration, Instant};

use koinos_protocol::crypto::{PrivateKey, recover_public_key, sha256};
use koinos_services::chain::builder;
use koinos_services::chain::{Chain, ForkAlgorithm, devnet};

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
    let genesis = devnet::genesis(producer.address().as_bytes(), &token, &balances);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut chain = Chain::open(dir.path(), &genesis, ForkAlgorithm::Fifo).expect("open chain");
    let chain_id = chain.chain_id().to_vec();

    let mut nonces = vec![0u64; ACCOUNTS];
    let mut applying = Duration::ZERO;
    let mut transfers = 0usize;
    let mut timestamp = 1_700_000_000_000u64;
    for block_index in 0..blocks {
        let transactions = (0..per_block)
            .map(|i| {
                let from = (block_index * per_block + i) % ACCOUNTS;
                let to = (from + 1) % ACCOUNTS;
                nonces[from] += 1;
                let op = builder::transfer_operation(
                    &token,
                    accounts[from].address().as_bytes(),
                    accounts[to].address().as_bytes(),
                    1,
                );
                builder::transaction(&chain_id, &accounts[from], nonces[from], RC_LIMIT, vec![op])
            })
            .collect();
        timestamp += 1000;
        let block = builder::block(chain.head(), timestamp, transactions, &producer);
        let started = Instant::now();
        let committed = chain
            .submit_block(&block, timestamp)
            .expect("block applies")
            .expect("new block");
        applying += started.elapsed();
        assert!(
            committed
                .receipt
                .transaction_receipts
                .iter()
                .all(|r| !r.reverted),
            "a transfer reverted"
        );
        transfers += per_block;
    }
    let transfer_rate = transfers as f64 / applying.as_secs_f64();
    let baseline = recover_rate(transfers.min(5000));

    println!(
        "chain benchmark: {blocks} blocks x {per_block} signed transfers, {ACCOUNTS} accounts, durable commits"
    );
    println!("secp256k1 recover (single core): {baseline:>10.0} /s");
    println!("transfers applied:               {transfer_rate:>10.0} /s");
    println!(
        "ratio transfers / recover:       {:>10.2} (goal >= 0.50)",
        transfer_rate / baseline
    );
}
