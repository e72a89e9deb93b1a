//! Building and signing transactions and blocks the way this chain validates them, for the
//! block producer, devnet tooling, tests and benchmarks.

use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::nonce::encode_nonce;
use koinos_protocol::pb::koinos::contracts::token::TransferArguments;
use koinos_protocol::pb::koinos::protocol::{
    Block, BlockHeader, CallContractOperation, Operation, Transaction, TransactionHeader,
    operation::Op,
};
use koinos_protocol::seal::{sign_block, sign_transaction};
use prost::Message;

use super::token::entry;

/// A `call_contract` operation.
pub fn call_operation(contract_id: &[u8], entry_point: u32, args: Vec<u8>) -> Operation {
    Operation {
        op: Some(Op::CallContract(CallContractOperation {
            contract_id: contract_id.to_vec(),
            entry_point,
            args,
        })),
    }
}

/// A KCS-4 `transfer` call.
pub fn transfer_operation(token: &[u8], from: &[u8], to: &[u8], value: u64) -> Operation {
    let args = TransferArguments {
        from: from.to_vec(),
        to: to.to_vec(),
        value,
        memo: None,
    };
    call_operation(token, entry::TRANSFER, args.encode_to_vec())
}

/// Fills in the operation root and id of `tx` and signs it with `signer` (appended).
pub fn seal_transaction(mut tx: Transaction, signer: &PrivateKey) -> Transaction {
    sign_transaction(&mut tx, signer).expect("a finalized id is a sha2-256 multihash");
    tx
}

/// A transaction paid and signed by `payer` with nonce `nonce`.
pub fn transaction(
    chain_id: &[u8],
    payer: &PrivateKey,
    nonce: u64,
    rc_limit: u64,
    operations: Vec<Operation>,
) -> Transaction {
    let header = TransactionHeader {
        chain_id: chain_id.to_vec(),
        rc_limit,
        nonce: encode_nonce(nonce),
        payer: payer.address().to_vec(),
        ..Default::default()
    };
    seal_transaction(
        Transaction {
            header: Some(header),
            operations,
            ..Default::default()
        },
        payer,
    )
}

/// Fills in the transaction root and id of a block and signs it.
pub fn seal_block(mut block: Block, signer: &PrivateKey) -> Block {
    sign_block(&mut block, signer).expect("a finalized id is a sha2-256 multihash");
    block
}

/// A block on `previous` (its id, height and state merkle root) signed by `signer`.
pub fn block(
    previous: &super::fork::BlockInfo,
    timestamp: u64,
    transactions: Vec<Transaction>,
    signer: &PrivateKey,
) -> Block {
    let header = BlockHeader {
        previous: previous.id.clone(),
        height: previous.height + 1,
        timestamp,
        previous_state_merkle_root: previous.state_merkle_root.clone(),
        signer: signer.address().to_vec(),
        ..Default::default()
    };
    seal_block(
        Block {
            header: Some(header),
            transactions,
            ..Default::default()
        },
        signer,
    )
}
