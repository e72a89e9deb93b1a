//! The test vector of docs/protocol.md (produced with koilib), byte for byte.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::crypto::signature::recover_address_from_id;
use koinos_protocol::crypto::{Address, PrivateKey, sha256};
use koinos_protocol::ids::{block_id, transaction_id, zero_block_id};
use koinos_protocol::merkle::{empty_merkle_root, operation_merkle_root, transaction_merkle_root};
use koinos_protocol::nonce::encode_nonce;
use koinos_protocol::pb::koinos::protocol::{
    BlockHeader, CallContractOperation, Operation, Transaction, TransactionHeader, operation::Op,
};

const WIF: &str = "Kzhn4jgyMDrRGAT8PhMvvjH3DhFvskzKCBvc7gfBxH97zu4YVZM9";
const ADDRESS: &str = "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK";
const MAINNET_CHAIN_ID: &str = "EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==";
const KOIN: &str = "15DJN4a8SgrbGhhGksSBASiSYjGnMU8dGL";
const OPERATION_ROOT: &str = "EiDMuYGN4PX0uDxy8T5FjqgSK0ICtqdFymUiWHufdakYuA==";
const TRANSACTION_ID: &str =
    "0x12200786a736fd1d90bfcb170cd42dbde89afe73ae01ceaa356759412c80a3559f20";
const KOILIB_SIGNATURE: &str =
    "IFTduqOf1Kb3McfgQf9rmvVQf2CBVneEOORqFbfxu-oFeXdDazjpKv3RRijwJ226E4278Jl7UsbZ0OyZDVmbtUI=";
const TRANSACTION_ROOT: &str = "EiCooj2ZqMLenIcg6YleRFiAsNUhCnlG-0C3hM9ur-sLfw==";
const BLOCK_ID: &str = "0x1220bb1a3526620b89d0f451f3c144702fab4294b4422930c44e5bc8ef27a07b553f";

fn key() -> PrivateKey {
    PrivateKey::from_bytes(&sha256(b"koinos-test-vector")).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

fn unsigned_transaction() -> Transaction {
    let address: Address = ADDRESS.parse().unwrap();
    let koin: Address = KOIN.parse().unwrap();
    let operations = vec![Operation {
        op: Some(Op::CallContract(CallContractOperation {
            contract_id: koin.to_vec(),
            entry_point: 670_398_154,
            args: URL_SAFE.decode("CgA=").unwrap(),
        })),
    }];
    let header = TransactionHeader {
        chain_id: URL_SAFE.decode(MAINNET_CHAIN_ID).unwrap(),
        rc_limit: 100_000_000,
        nonce: encode_nonce(1),
        operation_merkle_root: operation_merkle_root(&operations),
        payer: address.to_vec(),
        payee: Vec::new(),
    };
    Transaction {
        id: transaction_id(&header),
        header: Some(header),
        operations,
        signatures: Vec::new(),
    }
}

#[test]
fn key_wif_and_address() {
    let key = key();
    assert_eq!(hex::encode(key.to_bytes()).get(..8), Some("67f36c3b"));
    assert!(hex::encode(key.to_bytes()).ends_with("25897d"));
    assert_eq!(key.to_wif(), WIF);
    assert_eq!(
        PrivateKey::from_wif(WIF).unwrap().to_bytes(),
        key.to_bytes()
    );
    assert_eq!(key.address().to_string(), ADDRESS);
}

#[test]
fn transaction_root_id_and_signature() {
    let transaction = unsigned_transaction();
    let header = transaction.header.as_ref().unwrap();
    assert_eq!(b64(&header.nonce), "KAE=");
    assert_eq!(b64(&header.operation_merkle_root), OPERATION_ROOT);
    assert_eq!(
        format!("0x{}", hex::encode(&transaction.id)),
        TRANSACTION_ID
    );

    let signature = key().sign_id(&transaction.id).unwrap();
    assert_eq!(b64(&signature), KOILIB_SIGNATURE);
    let signer = recover_address_from_id(&transaction.id, &signature).unwrap();
    assert_eq!(signer.to_string(), ADDRESS);
}

#[test]
fn block_transaction_root_and_id() {
    let mut transaction = unsigned_transaction();
    transaction
        .signatures
        .push(URL_SAFE.decode(KOILIB_SIGNATURE).unwrap());
    let address: Address = ADDRESS.parse().unwrap();
    let transactions = vec![transaction];
    let header = BlockHeader {
        previous: zero_block_id(),
        height: 2,
        timestamp: 1_700_000_000_000,
        previous_state_merkle_root: empty_merkle_root(),
        transaction_merkle_root: transaction_merkle_root(&transactions),
        signer: address.to_vec(),
        approved_proposals: Vec::new(),
    };
    assert_eq!(b64(&header.transaction_merkle_root), TRANSACTION_ROOT);
    assert_eq!(format!("0x{}", hex::encode(block_id(&header))), BLOCK_ID);
}
