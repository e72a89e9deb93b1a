//! Each invalid transaction class is rejected with the official chain's code (docs/protocol.md
//! "Transaction validation"; messages and data: `official_errors.rs`).

use koinos_protocol::pb::koinos::protocol::TransactionHeader;

use super::*;
use crate::chain::error::code;
use koinos_protocol::nonce::encode_nonce;

/// Re-seals `tx` after editing its header (new id, fresh signature by `signer`).
fn edit(
    tx: &Transaction,
    signer: &PrivateKey,
    change: impl FnOnce(&mut TransactionHeader),
) -> Transaction {
    let mut tx = tx.clone();
    change(tx.header.as_mut().unwrap());
    tx.signatures.clear();
    builder::seal_transaction(tx, signer)
}

#[test]
fn valid_transaction_applies_with_receipt() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 10);
    let applied = f.chain.apply_pending_transaction(&tx, None).unwrap();
    assert!(!applied.receipt.reverted);
    assert_eq!(applied.receipt.id, tx.id);
    assert!(applied.receipt.rc_used > 0 && applied.receipt.rc_used <= RC_LIMIT);
    assert_eq!(
        applied.receipt.network_bandwidth_used,
        prost::Message::encoded_len(&tx) as u64
    );
    // Pending application keeps nothing.
    assert_eq!(f.balance(f.bob.address().as_bytes()), 0);
}

#[test]
fn rc_limit_above_the_payer_rc_fails_with_1() {
    let f = Fixture::new();
    let tx = edit(
        &f.transfer(&f.alice, f.bob.address().as_bytes(), 1),
        &f.alice,
        |h| h.rc_limit = u64::MAX,
    );
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::FAILURE
    );
}

#[test]
fn wrong_chain_id_fails_with_1() {
    let f = Fixture::new();
    let tx = edit(
        &f.transfer(&f.alice, f.bob.address().as_bytes(), 1),
        &f.alice,
        |h| h.chain_id[3] ^= 1,
    );
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::FAILURE
    );
}

#[test]
fn wrong_transaction_id_fails_with_1() {
    let f = Fixture::new();
    let mut tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    tx.id[4] ^= 1;
    tx.signatures = vec![f.alice.sign_id(&tx.id).unwrap().to_vec()];
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::FAILURE
    );
}

#[test]
fn wrong_operation_root_fails_with_1() {
    let f = Fixture::new();
    let mut tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    // Changing an operation after sealing leaves the header (and so id and signature) valid.
    tx.operations.push(builder::transfer_operation(
        &f.token,
        f.alice.address().as_bytes(),
        f.bob.address().as_bytes(),
        5,
    ));
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::FAILURE
    );
}

#[test]
fn transaction_not_signed_by_the_payer_fails_with_200() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let mut by_bob = tx.clone();
    by_bob.signatures = vec![f.bob.sign_id(&tx.id).unwrap().to_vec()];
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&by_bob, None)),
        code::AUTHORIZATION_FAILURE
    );
}

#[test]
fn payee_nonce_needs_the_payee_signature() {
    let f = Fixture::new();
    // Bob pays, Alice is the payee whose nonce is used: Alice must sign too.
    let op = builder::transfer_operation(
        &f.token,
        f.alice.address().as_bytes(),
        f.bob.address().as_bytes(),
        1,
    );
    let base = f.tx(&f.bob, vec![op]);
    let tx = edit(&base, &f.bob, |h| {
        h.payee = f.alice.address().to_vec();
        h.nonce = encode_nonce(1);
    });
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::AUTHORIZATION_FAILURE
    );
    let mut both = tx.clone();
    both.signatures
        .push(f.alice.sign_id(&tx.id).unwrap().to_vec());
    let applied = f.chain.apply_pending_transaction(&both, None).unwrap();
    assert!(!applied.receipt.reverted);
    assert_eq!(applied.receipt.payer, f.bob.address().to_vec());
}

#[test]
fn wrong_nonce_fails_with_201() {
    let mut f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let skipped = edit(&tx, &f.alice, |h| h.nonce = encode_nonce(2));
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&skipped, None)),
        code::INVALID_NONCE
    );
    let not_a_u64 = edit(&tx, &f.alice, |h| h.nonce = vec![0x20, 0x01]);
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&not_a_u64, None)),
        code::INVALID_NONCE
    );
    f.produce(vec![tx.clone()]);
    // Replaying the same nonce fails.
    let replay = edit(&tx, &f.alice, |h| h.rc_limit -= 1);
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&replay, None)),
        code::INVALID_NONCE
    );
    assert_eq!(
        f.chain.account_nonce(f.alice.address().as_bytes()).unwrap(),
        encode_nonce(1)
    );
}

#[test]
fn malformed_signature_fails_with_202() {
    let f = Fixture::new();
    let mut tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    tx.signatures = vec![vec![0u8; 65]];
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::INVALID_SIGNATURE
    );
    tx.signatures = vec![vec![31u8; 10]];
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::INVALID_SIGNATURE
    );
}

#[test]
fn other_hash_codes_fail_with_1() {
    let f = Fixture::new();
    let mut tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    tx.id[0] = 0x13;
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&tx, None)),
        code::FAILURE
    );
}

#[test]
fn mempool_pending_nonce_stands_in_for_the_chain_nonce() {
    let f = Fixture::new();
    let first = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let second = edit(&first, &f.alice, |h| h.nonce = encode_nonce(2));
    assert_eq!(
        code_of(f.chain.apply_pending_transaction(&second, None)),
        code::INVALID_NONCE
    );
    let pending = encode_nonce(1);
    let applied = f
        .chain
        .apply_pending_transaction(&second, Some(&pending))
        .unwrap();
    assert!(!applied.receipt.reverted);
}
