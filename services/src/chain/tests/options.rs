//! The `read-compute-bandwidth-limit` and `verify-blocks` options.

use koinos_protocol::pb::koinos::contracts::token::{BalanceOfArguments, BalanceOfResult};

use super::*;
use crate::chain::app::{ChainArgs, open_chain, verify_blocks};
use crate::chain::context::{COMPUTE_PER_OPERATION, DEFAULT_READ_COMPUTE_LIMIT};
use crate::chain::error::code;

fn balance_args(f: &Fixture) -> Vec<u8> {
    BalanceOfArguments {
        owner: f.alice.address().to_vec(),
    }
    .encode_to_vec()
}

#[test]
fn read_compute_limit_bounds_read_contract() {
    let mut f = Fixture::new();
    let args = balance_args(&f);
    // A read call costs what a call operation costs: at the limit it runs.
    f.chain.set_read_compute_limit(COMPUTE_PER_OPERATION);
    let (result, _) = f
        .chain
        .read_contract(&f.token, entry::BALANCE_OF, &args)
        .unwrap();
    assert_eq!(
        BalanceOfResult::decode(result.as_slice()).unwrap().value,
        1_000_000
    );
    // Below it the call fails as the official meter does.
    f.chain.set_read_compute_limit(COMPUTE_PER_OPERATION - 1);
    let error = f
        .chain
        .read_contract(&f.token, entry::BALANCE_OF, &args)
        .unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (
            code::COMPUTE_BANDWIDTH_LIMIT_EXCEEDED,
            "compute bandwidth limit exceeded"
        )
    );
    // Transactions are not bound by it.
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    assert!(
        !f.chain
            .apply_pending_transaction(&tx, None)
            .unwrap()
            .receipt
            .reverted
    );
}

#[test]
fn the_option_reaches_the_chain_from_the_config() {
    let f = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("genesis_data.json"),
        koinos_protocol::genesis::genesis_to_json(&f.genesis),
    )
    .unwrap();
    let limited: ChainArgs =
        serde_yaml::from_str("read-compute-bandwidth-limit: 10\nverify-blocks: true\n").unwrap();
    assert!(verify_blocks(&limited));
    let chain = open_chain(dir.path(), &limited).unwrap();
    let error = chain
        .read_contract(&f.token, entry::BALANCE_OF, &balance_args(&f))
        .unwrap_err();
    assert_eq!(error.code, code::COMPUTE_BANDWIDTH_LIMIT_EXCEEDED);
    drop(chain);
    // Unset: the official default, and no block verification in catch-up.
    let defaults = ChainArgs::default();
    assert!(!verify_blocks(&defaults));
    let chain = open_chain(dir.path(), &defaults).unwrap();
    assert_eq!(DEFAULT_READ_COMPUTE_LIMIT, 10_000_000);
    chain
        .read_contract(&f.token, entry::BALANCE_OF, &balance_args(&f))
        .unwrap();
}

#[test]
fn verify_blocks_checks_in_catch_up_what_the_receipt_delta_skips() {
    let mut f = Fixture::new();
    let committed = f.produce(vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 5)]);
    // The same block signed by someone else: its receipt's delta still applies.
    let forged = builder::seal_block(committed.block.clone(), &f.alice);
    let mut forged_tx = committed.block.clone();
    forged_tx.transactions[0].signatures = vec![
        f.bob
            .sign_id(&forged_tx.transactions[0].id)
            .unwrap()
            .to_vec(),
    ];
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::open(dir.path(), &f.genesis, ForkAlgorithm::Fifo).unwrap();
        (dir, chain)
    };
    let now = f.now();

    // Without verify-blocks (the default): deltas, no signature or merkle root is checked.
    let (_dir, mut by_delta) = fresh();
    assert!(
        by_delta
            .catch_up_block(&forged, Some(&committed.receipt), false, now)
            .unwrap()
    );
    assert_eq!(by_delta.head(), f.chain.head());

    // With it: re-executed, so the forged signature and the forged transaction are refused.
    let (_dir, mut verified) = fresh();
    let error = verified
        .catch_up_block(&forged, Some(&committed.receipt), true, now)
        .unwrap_err();
    assert_eq!(error.code, code::INVALID_SIGNATURE);
    let error = verified
        .catch_up_block(&forged_tx, Some(&committed.receipt), true, now)
        .unwrap_err();
    assert_eq!(error.code, code::MALFORMED_BLOCK, "{error}");
    // The genuine block re-executes to the same state, without needing its receipt.
    assert!(
        verified
            .catch_up_block(&committed.block, None, true, now)
            .unwrap()
    );
    assert_eq!(verified.head(), f.chain.head());
    assert!(
        !verified
            .catch_up_block(&committed.block, None, true, now)
            .unwrap()
    );
}
