//! Synthetic blocks of realistic size for the benchmarks: a chain of blocks `1..=n` whose ids
//! are `id(1, height)`, each with two token transfers, their receipts and state deltas.

#![allow(dead_code)] // each bench uses a part

use koinos_protocol::pb::koinos::protocol::{
    CallContractOperation, ObjectSpace, StateDeltaEntry, operation,
};
use koinos_protocol::{
    Block, BlockHeader, BlockReceipt, Operation, Transaction, TransactionHeader, TransactionReceipt,
};

pub const TRANSACTIONS_PER_BLOCK: usize = 2;

pub fn id(tag: u8, n: u64) -> Vec<u8> {
    let mut id = vec![0x12, 0x20, tag];
    id.extend_from_slice(&n.to_be_bytes());
    id.resize(34, 0x42);
    id
}

/// A block of realistic size: two token transfers, their receipts and state deltas.
pub fn block_and_receipt(height: u64, previous: Vec<u8>) -> (Block, BlockReceipt) {
    let transactions: Vec<Transaction> = (0..TRANSACTIONS_PER_BLOCK as u64)
        .map(|i| Transaction {
            id: id(2, height * 10 + i),
            header: Some(TransactionHeader {
                chain_id: id(3, 0),
                rc_limit: 100_000_000,
                nonce: vec![0x28, (height % 100) as u8],
                operation_merkle_root: id(4, height),
                payer: vec![0x00; 25],
                payee: Vec::new(),
            }),
            operations: vec![Operation {
                op: Some(operation::Op::CallContract(CallContractOperation {
                    contract_id: vec![0x01; 25],
                    entry_point: 0x27f576ca,
                    args: vec![0x0a; 60],
                })),
            }],
            signatures: vec![vec![0x1f; 65]],
        })
        .collect();
    let deltas = |n: u64| -> Vec<StateDeltaEntry> {
        (0..3)
            .map(|k| StateDeltaEntry {
                object_space: Some(ObjectSpace {
                    system: false,
                    zone: vec![0x01; 25],
                    id: 0,
                }),
                key: id(5, n * 3 + k),
                value: Some(vec![0x08; 16]),
            })
            .collect()
    };
    let receipt = BlockReceipt {
        id: id(1, height),
        height,
        disk_storage_used: 200,
        network_bandwidth_used: 600,
        compute_bandwidth_used: 500_000,
        state_merkle_root: id(6, height),
        transaction_receipts: transactions
            .iter()
            .enumerate()
            .map(|(i, t)| TransactionReceipt {
                id: t.id.clone(),
                payer: vec![0x00; 25],
                max_payer_rc: 1_000_000_000,
                rc_limit: 100_000_000,
                rc_used: 300_000,
                state_delta_entries: deltas(height * 10 + i as u64),
                ..Default::default()
            })
            .collect(),
        state_delta_entries: deltas(height),
        ..Default::default()
    };
    let block = Block {
        id: id(1, height),
        header: Some(BlockHeader {
            previous,
            height,
            timestamp: 1_700_000_000_000 + height * 3000,
            previous_state_merkle_root: id(6, height - 1),
            transaction_merkle_root: id(7, height),
            signer: vec![0x00; 25],
            approved_proposals: Vec::new(),
        }),
        transactions,
        signature: vec![0x20; 65],
    };
    (block, receipt)
}
