//! Errors a client sees exactly as the official chain words them: code, message and the
//! `data` JSON (its format parameters), through the chain core and through the RPC handler.

use koinos_protocol::pb::koinos::protocol::operation::Op;
use koinos_protocol::pb::koinos::protocol::{TransactionHeader, UploadContractOperation};
use koinos_protocol::rpc::chain::{
    GetAccountNonceRequest, GetAccountRcRequest, InvokeSystemCallRequest, ReadContractRequest,
    SubmitTransactionRequest, chain_request::Request, chain_response::Response,
    invoke_system_call_request::SystemCall,
};
use serde_json::{Value, json};

use super::*;
use crate::chain::error::{code, to_hex};
use crate::chain::service::ChainService;
use koinos_protocol::nonce::encode_nonce;

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

/// The `data` JSON of an error, parsed.
fn data(error: &ChainError) -> Value {
    serde_json::from_str(&error.data_json()).unwrap()
}

fn pending_error(f: &Fixture, tx: &Transaction) -> ChainError {
    f.chain.apply_pending_transaction(tx, None).unwrap_err()
}

/// `logs: []` in the data marks the errors the official chain raises once the transaction's or
/// block's receipt exists (it attaches the receipt's logs); checks before have none.
fn assert_error(error: &ChainError, code: i32, message: &str, expected_data: Value) {
    assert_eq!((error.code, error.message.as_str()), (code, message));
    assert_eq!(data(error), expected_data, "data of {message:?}");
}

#[test]
fn transaction_validation_failures_are_code_minus_1_with_the_official_messages() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);

    let over_rc = edit(&tx, &f.alice, |h| h.rc_limit = u64::MAX);
    assert_error(
        &pending_error(&f, &over_rc),
        code::FAILURE,
        "payer does not have the rc to cover transaction rc limit",
        json!({"code": -1, "logs": []}),
    );

    let other_chain = edit(&tx, &f.alice, |h| h.chain_id[3] ^= 1);
    assert_error(
        &pending_error(&f, &other_chain),
        code::FAILURE,
        "chain id mismatch",
        json!({"code": -1, "logs": []}),
    );

    let mut bad_id = tx.clone();
    bad_id.id[4] ^= 1;
    bad_id.signatures = vec![f.alice.sign_id(&bad_id.id).unwrap().to_vec()];
    assert_error(
        &pending_error(&f, &bad_id),
        code::FAILURE,
        "transaction contains an invalid transaction id",
        json!({"code": -1, "logs": []}),
    );

    let mut bad_root = tx.clone();
    bad_root.operations.push(bad_root.operations[0].clone());
    assert_error(
        &pending_error(&f, &bad_root),
        code::FAILURE,
        "operation merkle root does not match",
        json!({"code": -1, "logs": []}),
    );

    // Sealing recomputes the operation root: set it, then the id and signature, by hand.
    let mut other_code = tx.clone();
    let header = other_code.header.as_mut().unwrap();
    header.operation_merkle_root[0] = 0x13;
    other_code.id = koinos_protocol::crypto::sha256_multihash(&header.encode_to_vec());
    other_code.signatures = vec![f.alice.sign_id(&other_code.id).unwrap().to_vec()];
    assert_error(
        &pending_error(&f, &other_code),
        code::FAILURE,
        "unexpected operation merkle root hash code - was: 19, expected: 18",
        json!({"code": -1, "o": 19, "e": 18, "logs": []}),
    );
}

#[test]
fn nonce_errors_name_the_account_the_nonce_and_the_current_nonce() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let alice = bs58::encode(f.alice.address().as_bytes()).into_string();
    let skipped = edit(&tx, &f.alice, |h| h.nonce = encode_nonce(5));
    let message = format!(
        "invalid transaction nonce - account: {alice}, nonce: 0x2805, current nonce: 0x2800"
    );
    assert_error(
        &pending_error(&f, &skipped),
        code::INVALID_NONCE,
        &message,
        json!({"code": -201, "a": alice, "n": "0x2805", "c": "0x2800", "logs": []}),
    );
    let not_a_u64 = edit(&tx, &f.alice, |h| h.nonce = vec![0x20, 0x01]);
    assert_error(
        &pending_error(&f, &not_a_u64),
        code::INVALID_NONCE,
        &format!("nonce did not contain uint64 value - nonce: 0x2001, account: {alice}"),
        json!({"code": -201, "a": alice, "n": "0x2001", "logs": []}),
    );
}

#[test]
fn authority_failure_names_the_account() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let mut by_bob = tx.clone();
    by_bob.signatures = vec![f.bob.sign_id(&tx.id).unwrap().to_vec()];
    let alice = bs58::encode(f.alice.address().as_bytes()).into_string();
    assert_error(
        &pending_error(&f, &by_bob),
        code::AUTHORIZATION_FAILURE,
        &format!("account {alice} has not authorized transaction"),
        json!({"code": -200, "account": alice, "logs": []}),
    );
}

#[test]
fn signatures_that_do_not_recover_say_why() {
    let f = Fixture::new();
    let mut tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    tx.signatures = vec![vec![31u8; 10]];
    assert_error(
        &pending_error(&f, &tx),
        code::INVALID_SIGNATURE,
        "unexpected signature length",
        json!({"code": -202, "logs": []}),
    );
    let mut block = f.next_block(vec![]);
    block.signature = vec![0u8; 65];
    let error = f
        .chain
        .prepare(&block, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_error(
        &error,
        code::INVALID_SIGNATURE,
        "public key is invalid",
        json!({"code": -202, "logs": []}),
    );
}

#[test]
fn missing_transaction_fields_are_named_as_the_official_chain_names_them() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let id = to_hex(&tx.id);
    let mut unsigned = tx.clone();
    unsigned.signatures.clear();
    assert_error(
        &pending_error(&f, &unsigned),
        code::MISSING_REQUIRED_ARGUMENTS,
        "missing expected field in transaction: signature_data",
        json!({"code": -1002, "field": "signature_data", "transaction_id": id}),
    );
    let mut no_limit = tx.clone();
    no_limit.header.as_mut().unwrap().rc_limit = 0;
    assert_error(
        &pending_error(&f, &no_limit),
        code::MISSING_REQUIRED_ARGUMENTS,
        "missing expected field in transaction header: rc_limit",
        json!({"code": -1002, "field": "rc_limit", "transaction_id": id}),
    );
    // The id is checked first, and without it there is no id to report.
    let mut bare = Transaction::default();
    bare.signatures.clear();
    assert_error(
        &pending_error(&f, &bare),
        code::MISSING_REQUIRED_ARGUMENTS,
        "missing expected field in transaction: id",
        json!({"code": -1002, "field": "id"}),
    );
}

#[test]
fn missing_block_fields_and_block_checks_use_the_official_messages() {
    let f = Fixture::new();
    let good = f.next_block(vec![]);
    let id = to_hex(&good.id);
    let mut unsigned = good.clone();
    unsigned.signature.clear();
    let error = f
        .chain
        .prepare(&unsigned, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_error(
        &error,
        code::MISSING_REQUIRED_ARGUMENTS,
        "missing expected field in block: signature_data",
        json!({"code": -1002, "field": "signature_data", "block_id": id}),
    );
    let mut no_root = good.clone();
    no_root
        .header
        .as_mut()
        .unwrap()
        .transaction_merkle_root
        .clear();
    let error = f
        .chain
        .prepare(&no_root, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_eq!(
        error.message,
        "missing expected field in block header: transaction_merkle_root"
    );

    let mut wrong_id = good.clone();
    wrong_id.id[5] ^= 1;
    let error = f
        .chain
        .prepare(&wrong_id, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_error(
        &error,
        code::MALFORMED_BLOCK,
        "block contains an invalid block id",
        json!({"code": -203, "logs": []}),
    );
    let mut high = good.clone();
    high.header.as_mut().unwrap().height = 3;
    let high = builder::seal_block(high, &f.producer);
    let error = f
        .chain
        .prepare(&high, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_error(
        &error,
        code::UNEXPECTED_HEIGHT,
        "first block must have height of 1",
        json!({"code": -1004}),
    );
    let by_alice = builder::seal_block(good.clone(), &f.alice);
    let error = f
        .chain
        .prepare(&by_alice, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_error(
        &error,
        code::INVALID_SIGNATURE,
        "failed to process block signature",
        json!({"code": -202, "logs": []}),
    );
}

#[test]
fn a_failing_transaction_in_a_block_names_it() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let replay = edit(&tx, &f.alice, |h| h.nonce = encode_nonce(2));
    let block = f.next_block(vec![replay.clone()]);
    let error = f
        .chain
        .prepare(&block, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_eq!(error.code, code::INVALID_NONCE);
    assert_eq!(data(&error)["transaction_id"], json!(to_hex(&replay.id)));
    // Outside a block the official chain does not add it.
    assert!(
        data(&pending_error(&f, &replay))
            .get("transaction_id")
            .is_none()
    );
}

async fn error_of(service: &ChainService, request: Request) -> (String, Value) {
    match service.respond(request).await {
        Response::Error(status) => (
            status.message,
            serde_json::from_str(&status.data).expect("data is JSON"),
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_without_their_argument_are_missing_required_arguments() {
    let service = service_of(Fixture::new());
    let nonce = error_of(
        &service,
        Request::GetAccountNonce(GetAccountNonceRequest { account: vec![] }),
    )
    .await;
    assert_eq!(
        nonce,
        (
            "missing expected field: account".to_string(),
            json!({"code": -1002, "f": "account"})
        )
    );
    let rc = error_of(
        &service,
        Request::GetAccountRc(GetAccountRcRequest { account: vec![] }),
    )
    .await;
    assert_eq!(rc.1, json!({"code": -1002, "f": "payer"}));
    let read = error_of(
        &service,
        Request::ReadContract(ReadContractRequest::default()),
    )
    .await;
    assert_eq!(read.0, "missing expected field: contract_id");
    let syscall = error_of(
        &service,
        Request::InvokeSystemCall(InvokeSystemCallRequest::default()),
    )
    .await;
    assert_eq!(
        syscall,
        (
            "missing expected field: id or name".to_string(),
            json!({"code": -1002, "f1": "id", "f2": "name"})
        )
    );
    let unknown_name = error_of(
        &service,
        Request::InvokeSystemCall(InvokeSystemCallRequest {
            system_call: Some(SystemCall::Name("no_such_call".into())),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(
        unknown_name,
        (
            "unknown system call name".to_string(),
            json!({"code": -103})
        )
    );
    let unknown_id = error_of(
        &service,
        Request::InvokeSystemCall(InvokeSystemCallRequest {
            system_call: Some(SystemCall::Id(99_999)),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(
        unknown_id,
        (
            "thunk 99999 does not exist".to_string(),
            json!({"code": 106, "tid": 99_999})
        )
    );
}

#[tokio::test]
async fn a_reverted_transaction_answers_with_its_own_error_code() {
    let mut f = Fixture::new();
    let contract = PrivateKey::from_seed("wasm contract");
    let upload = Operation {
        op: Some(Op::UploadContract(UploadContractOperation {
            contract_id: contract.address().to_vec(),
            bytecode: b"\0asm\x01\0\0\0".to_vec(),
            ..Default::default()
        })),
    };
    f.produce(vec![f.tx(&contract, vec![upload])]);
    let call = builder::call_operation(contract.address().as_bytes(), 1, vec![]);
    let tx = f.tx(&f.alice, vec![call]);
    let service = service_of(f);
    let response = service
        .respond(Request::SubmitTransaction(SubmitTransactionRequest {
            transaction: Some(tx),
            broadcast: false,
        }))
        .await;
    let Response::Error(status) = response else {
        panic!("a reverted transaction is an error, got {response:?}");
    };
    let data: Value = serde_json::from_str(&status.data).unwrap();
    // A module without `_start` reverts (code 1), as the official VM refuses it.
    assert_eq!(data["code"], json!(code::REVERSION), "{data}");
    assert_eq!(status.message, "module does not have _start function");
    assert_eq!(
        data["contract_id"],
        json!(bs58::encode(contract.address().as_bytes()).into_string())
    );
    // The receipt's logs come along, "transaction reverted: ..." included.
    let logs = data["logs"].as_array().expect("logs");
    assert!(
        logs[0]
            .as_str()
            .unwrap()
            .starts_with("transaction reverted: ")
    );
    let details =
        koinos_protocol::chain::ErrorDetails::decode(status.details[0].value.as_slice()).unwrap();
    assert_eq!(details.code, code::REVERSION);
}
