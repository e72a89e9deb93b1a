//! The test vector of docs/protocol.md (produced with koilib): ids, merkle roots and signature
//! recovery.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::pb::koinos::protocol::{BlockHeader, TransactionHeader};

use super::*;
use crate::chain::block::transaction_merkle_root;
use crate::chain::transaction::operation_merkle_root;
use koinos_protocol::crypto::signature::recover_address_from_id;
use koinos_protocol::ids::{block_id, transaction_id};

#[test]
fn koilib_test_vector_matches_our_hashing_and_recovery() {
    let key = PrivateKey::from_seed("koinos-test-vector");
    let address = key.address().to_vec();
    let chain_id = URL_SAFE
        .decode("EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==")
        .unwrap();
    let contract = bs58::decode("15DJN4a8SgrbGhhGksSBASiSYjGnMU8dGL")
        .into_vec()
        .unwrap();
    let operation = builder::call_operation(&contract, 670398154, vec![0x0a, 0x00]);
    let op_root = operation_merkle_root(std::slice::from_ref(&operation));
    assert_eq!(
        URL_SAFE.encode(&op_root),
        "EiDMuYGN4PX0uDxy8T5FjqgSK0ICtqdFymUiWHufdakYuA=="
    );

    let header = TransactionHeader {
        chain_id,
        rc_limit: 100_000_000,
        nonce: URL_SAFE.decode("KAE=").unwrap(),
        operation_merkle_root: op_root,
        payer: address.clone(),
        payee: Vec::new(),
    };
    let tx_id = transaction_id(&header);
    assert_eq!(
        hex::encode(&tx_id),
        "12200786a736fd1d90bfcb170cd42dbde89afe73ae01ceaa356759412c80a3559f20"
    );
    let koilib_signature = URL_SAFE
        .decode("IFTduqOf1Kb3McfgQf9rmvVQf2CBVneEOORqFbfxu-oFeXdDazjpKv3RRijwJ226E4278Jl7UsbZ0OyZDVmbtUI=")
        .unwrap();
    assert_eq!(
        recover_address_from_id(&tx_id, &koilib_signature)
            .map(Vec::from)
            .ok(),
        Some(address.clone())
    );
    // Our own signature differs (RFC 6979 attempt counter) but also recovers.
    assert_eq!(
        recover_address_from_id(&tx_id, &key.sign_id(&tx_id).unwrap())
            .map(Vec::from)
            .ok(),
        Some(address.clone())
    );

    let tx = Transaction {
        id: tx_id,
        header: Some(header),
        operations: vec![operation],
        signatures: vec![koilib_signature],
    };
    let tx_root = transaction_merkle_root(std::slice::from_ref(&tx));
    assert_eq!(
        URL_SAFE.encode(&tx_root),
        "EiCooj2ZqMLenIcg6YleRFiAsNUhCnlG-0C3hM9ur-sLfw=="
    );
    let block_header = BlockHeader {
        previous: crate::chain::zero_block_id(),
        height: 2,
        timestamp: 1_700_000_000_000,
        previous_state_merkle_root: crate::chain::state::state_merkle_root(&Default::default()),
        transaction_merkle_root: tx_root,
        signer: address,
        approved_proposals: Vec::new(),
    };
    let block_id = block_id(&block_header);
    assert_eq!(
        hex::encode(&block_id),
        "1220bb1a3526620b89d0f451f3c144702fab4294b4422930c44e5bc8ef27a07b553f"
    );
}

#[test]
fn our_state_root_equals_the_protocol_librarys_delta_root() {
    let mut f = Fixture::new();
    let committed = f.produce(vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 5)]);
    let receipt = &committed.receipt;
    assert_eq!(
        koinos_protocol::merkle::state_delta_merkle_root(&receipt.state_delta_entries),
        receipt.state_merkle_root
    );
}
