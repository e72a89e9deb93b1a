//! The payer's RC comes from `get_account_rc` and is paid through `consume_account_rc`, both
//! through the system call table, as on the official chain: a resources contract the genesis
//! key sets as their override decides (mainnet's resources contract works this way).

mod fuzz_chain_support;

use fuzz_chain_support::wat_contracts::constant_contract;
use fuzz_chain_support::{ChainFixture, RC_LIMIT, system_override};
use koinos_protocol::chain::{ConsumeAccountRcResult, GetAccountRcResult, SystemCallId};
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::pb::koinos::protocol::{Operation, TransactionReceipt};
use koinos_services::chain::builder;
use prost::Message;

/// Applies one block with `operations` in one transaction paid and signed by `payer`, asking
/// for less RC than the test's resources contract gives.
fn apply(
    fixture: &mut ChainFixture,
    payer: &PrivateKey,
    operations: Vec<Operation>,
) -> TransactionReceipt {
    fixture.apply(payer, operations, RC_LIMIT - 1)
}

/// Uploads a contract that exits with `result`.
fn upload_constant(fixture: &mut ChainFixture, seed: &str, result: Vec<u8>) -> Vec<u8> {
    fixture.upload(seed, constant_contract(&result), RC_LIMIT - 1)
}

#[test]
fn a_resources_contract_decides_the_payer_rc_and_whether_it_is_paid() {
    let mut fixture = ChainFixture::new();
    let payer = PrivateKey::from_seed("payer");
    let genesis_rc = fixture
        .chain
        .account_rc(payer.address().as_bytes())
        .unwrap();
    assert!(genesis_rc >= RC_LIMIT);

    // Every account now has RC_LIMIT - 1: a transaction asking for RC_LIMIT is refused.
    let rc = GetAccountRcResult {
        value: RC_LIMIT - 1,
    }
    .encode_to_vec();
    let rule = upload_constant(&mut fixture, "rc rule", rc);
    let producer = fixture.producer.clone();
    let set = system_override(SystemCallId::GetAccountRc, &rule);
    assert!(!apply(&mut fixture, &producer, set).reverted);
    assert_eq!(
        fixture
            .chain
            .account_rc(payer.address().as_bytes())
            .unwrap(),
        RC_LIMIT - 1
    );
    let tx = builder::transaction(fixture.chain.chain_id(), &payer, 1, RC_LIMIT, vec![]);
    let refused = fixture
        .chain
        .apply_pending_transaction(&tx, None)
        .unwrap_err();
    assert_eq!(
        (refused.code, refused.message.as_str()),
        (
            -1,
            "payer does not have the rc to cover transaction rc limit"
        )
    );
    let tx = builder::transaction(fixture.chain.chain_id(), &payer, 1, RC_LIMIT - 1, vec![]);
    let receipt = fixture
        .chain
        .apply_pending_transaction(&tx, None)
        .unwrap()
        .receipt;
    assert_eq!(receipt.max_payer_rc, RC_LIMIT - 1);

    // A resources contract that refuses to consume the RC fails the transaction; the
    // override applies as soon as it is written, so the transaction setting it fails already,
    // as on the official chain (its operations commit before the RC is consumed).
    let refuse = ConsumeAccountRcResult { value: false }.encode_to_vec();
    let rule = upload_constant(&mut fixture, "consume rule", refuse);
    let set = builder::transaction(
        fixture.chain.chain_id(),
        &producer,
        fixture.next_nonce(&producer),
        RC_LIMIT - 1,
        system_override(SystemCallId::ConsumeAccountRc, &rule),
    );
    let refused = fixture
        .chain
        .apply_pending_transaction(&set, None)
        .unwrap_err();
    assert_eq!(refused.code, -1);
    let expected = format!(
        "unable to consume rc for payer: {}",
        bs58::encode(producer.address().as_bytes()).into_string()
    );
    assert_eq!(refused.message, expected);
}
