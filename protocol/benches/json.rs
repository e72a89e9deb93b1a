//! Koinos JSON throughput on a 200-transaction block, printed as a ratio of the baseline
//! measured in the same run: a protobuf encode + decode round trip of the same block (prost).

use std::hint::black_box;
use std::time::{Duration, Instant};

use koinos_protocol::crypto::{PrivateKey, sha256};
use koinos_protocol::json;
use koinos_protocol::nonce::encode_nonce;
use koinos_protocol::pb::koinos::protocol::{
    Block, BlockHeader, CallContractOperation, Operation, Transaction, TransactionHeader,
    operation::Op,
};
use koinos_protocol::seal::{sign_block, sign_transaction};
use prost::Message;

fn sample_block(transactions: usize) -> Block {
    let key = PrivateKey::from_bytes(&sha256(b"bench")).unwrap();
    let transactions = (0..transactions)
        .map(|i| {
            let mut transaction = Transaction {
                header: Some(TransactionHeader {
                    chain_id: vec![0x12; 34],
                    rc_limit: 100_000_000,
                    nonce: encode_nonce(i as u64 + 1),
                    payer: key.address().to_vec(),
                    ..Default::default()
                }),
                operations: vec![Operation {
                    op: Some(Op::CallContract(CallContractOperation {
                        contract_id: key.address().to_vec(),
                        entry_point: 670_398_154,
                        args: vec![0x0a; 64],
                    })),
                }],
                ..Default::default()
            };
            sign_transaction(&mut transaction, &key).unwrap();
            transaction
        })
        .collect();
    let mut block = Block {
        header: Some(BlockHeader {
            previous: vec![0x12; 34],
            height: 1_000_000,
            timestamp: 1_700_000_000_000,
            signer: key.address().to_vec(),
            ..Default::default()
        }),
        transactions,
        ..Default::default()
    };
    sign_block(&mut block, &key).unwrap();
    block
}

/// Mean time per call over at least `budget`.
fn time(budget: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < budget {
        f();
        calls += 1;
    }
    start.elapsed() / calls
}

fn main() {
    let block = sample_block(200);
    let bytes = block.encode_to_vec();
    let value = json::to_value(&block).unwrap();
    let budget = Duration::from_secs(2);

    let baseline = time(budget, || {
        let decoded = Block::decode(black_box(bytes.as_slice())).unwrap();
        black_box(decoded.encode_to_vec());
    });
    let encode = time(budget, || {
        black_box(json::to_value(black_box(&block)).unwrap());
    });
    let decode = time(budget, || {
        black_box(json::from_value::<Block>(black_box(&value)).unwrap());
    });

    println!("block: 200 transactions, {} protobuf bytes", bytes.len());
    println!("baseline protobuf decode+encode: {baseline:?} (1.00x)");
    for (name, took) in [("to_value", encode), ("from_value", decode)] {
        let ratio = took.as_secs_f64() / baseline.as_secs_f64();
        println!("json::{name}: {took:?} ({ratio:.1}x baseline)");
    }
}
