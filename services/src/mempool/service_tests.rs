use koinos_protocol::broadcast::{BlockAccepted, MempoolAccepted, TransactionAccepted};
use koinos_protocol::rpc::mempool::{
    GetPendingNonceRequest, mempool_request::Request, mempool_response::Response,
};
use koinos_protocol::{Block, BlockHeader, Transaction, TransactionHeader, TransactionReceipt};
use prost::Message;

use super::*;
use crate::mq::topology::topic::{
    BLOCK_ACCEPT, MEMPOOL_ACCEPT, MEMPOOL_BLOCK_ACCEPTED, TRANSACTION_ACCEPT,
};

fn transaction_accepted(nonce: u64) -> TransactionAccepted {
    TransactionAccepted {
        transaction: Some(Transaction {
            id: vec![0x12, 0x20, nonce as u8],
            header: Some(TransactionHeader {
                rc_limit: 10,
                nonce: encode_nonce(nonce),
                payer: vec![0xa1; 25],
                ..Default::default()
            }),
            ..Default::default()
        }),
        receipt: Some(TransactionReceipt {
            max_payer_rc: 100,
            ..Default::default()
        }),
        height: 3,
        ..Default::default()
    }
}

#[test]
fn an_accepted_transaction_is_announced_on_mempool_accept() {
    let mut pool = Mempool::new();
    let body = transaction_accepted(1).encode_to_vec();
    let out = on_broadcast(&mut pool, TRANSACTION_ACCEPT, &body, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, MEMPOOL_ACCEPT);
    let announced = MempoolAccepted::decode(out[0].1.as_slice()).unwrap();
    assert_eq!(announced.transaction, transaction_accepted(1).transaction);
    assert_eq!((announced.height, announced.pending_rc_used), (3, 10));
    // Refused (same nonce again) or unparsable: nothing is announced.
    assert!(on_broadcast(&mut pool, TRANSACTION_ACCEPT, &body, 0).is_empty());
    assert!(on_broadcast(&mut pool, TRANSACTION_ACCEPT, &[0xff, 0xff], 0).is_empty());
}

#[test]
fn every_accepted_block_is_re_published_byte_for_byte() {
    let mut pool = Mempool::new();
    let block = BlockAccepted {
        block: Some(Block {
            id: vec![0x12, 0x20, 1],
            header: Some(BlockHeader {
                height: 1,
                ..Default::default()
            }),
            ..Default::default()
        }),
        head: true,
        ..Default::default()
    };
    let body = block.encode_to_vec();
    let out = on_broadcast(&mut pool, BLOCK_ACCEPT, &body, 0);
    assert_eq!(out, vec![(MEMPOOL_BLOCK_ACCEPTED, body)]);
    assert_eq!(pool.head().1, 1);
    // Even a block the pool cannot use is passed on: consumers only wait for the pool.
    let out = on_broadcast(&mut pool, BLOCK_ACCEPT, &[0x0a, 0x00], 0);
    assert_eq!(out, vec![(MEMPOOL_BLOCK_ACCEPTED, vec![0x0a, 0x00])]);
}

#[test]
fn the_pending_nonce_is_empty_when_nothing_is_pending() {
    let mut pool = Mempool::new();
    let request = || {
        Request::GetPendingNonce(GetPendingNonceRequest {
            payee: vec![0xa1; 25],
            block_id: None,
        })
    };
    let Response::GetPendingNonce(r) = handle_request(&pool, request()).unwrap() else {
        panic!("wrong response");
    };
    assert!(r.nonce.is_empty());
    on_broadcast(
        &mut pool,
        TRANSACTION_ACCEPT,
        &transaction_accepted(7).encode_to_vec(),
        0,
    );
    let Response::GetPendingNonce(r) = handle_request(&pool, request()).unwrap() else {
        panic!("wrong response");
    };
    assert_eq!(r.nonce, encode_nonce(7));
}

#[test]
fn readiness_waits_one_expiration_window_unless_shortened() {
    let args = MempoolArgs::default();
    assert_eq!(args.transaction_expiration().as_secs(), 120);
    assert_eq!(args.readiness_delay().as_secs(), 120);
    let args = MempoolArgs {
        transaction_expiration: Some(30),
        ..Default::default()
    };
    assert_eq!(args.readiness_delay().as_secs(), 30);
    let args = MempoolArgs {
        readiness_delay: Some(0),
        ..Default::default()
    };
    assert_eq!(args.readiness_delay().as_secs(), 0);
    assert!(args.validate().is_ok());
    let bad = MempoolArgs {
        fork_algorithm: Some("longest".into()),
        ..Default::default()
    };
    assert!(bad.validate().is_err());
}
