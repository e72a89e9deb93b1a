//! The mempool process over AMQP: broadcasts in, `koinos.mempool.*` broadcasts out, every RPC,
//! expiry and delayed readiness.

use std::time::Duration;

use koinos_protocol::TransactionReceipt;
use koinos_protocol::broadcast::{
    BlockAccepted, MempoolAccepted, TransactionAccepted, TransactionFailed,
};
use koinos_protocol::rpc::mempool::{
    CheckAccountNonceRequest, CheckPendingAccountResourcesRequest, GetPendingNonceRequest,
    GetPendingTransactionCountRequest, GetPendingTransactionsByIdRequest,
    GetPendingTransactionsRequest, GetReservedAccountRcRequest, MempoolRequest, MempoolResponse,
    mempool_request::Request, mempool_response::Response,
};
use koinos_services::mempool::encode_nonce;
use koinos_services::mq::typed::{CallError, TypedClient};
use koinos_services::mq::{Broadcaster, Subscriber};
use prost::Message;

use crate::stores_support::*;

const ALICE: [u8; 25] = [0xa1; 25];

type MempoolClient = TypedClient<MempoolRequest, MempoolResponse>;

async fn call(client: &MempoolClient, request: Request) -> Result<Response, CallError> {
    let response = client
        .call(&MempoolRequest {
            request: Some(request),
        })
        .await?;
    Ok(response.response.expect("a response"))
}

async fn pending_ids(client: &MempoolClient) -> Vec<Vec<u8>> {
    let request = Request::GetPendingTransactions(GetPendingTransactionsRequest {
        limit: 100,
        block_id: None,
    });
    match call(client, request).await.unwrap() {
        Response::GetPendingTransactions(r) => r
            .pending_transactions
            .iter()
            .map(|p| p.transaction.as_ref().unwrap().id.clone())
            .collect(),
        other => panic!("unexpected {other:?}"),
    }
}

fn accepted(n: u32, nonce: u64) -> TransactionAccepted {
    TransactionAccepted {
        transaction: Some(transaction(n, &ALICE, nonce, 100)),
        receipt: Some(TransactionReceipt {
            id: tx_id(n),
            payer: ALICE.to_vec(),
            max_payer_rc: 1000,
            rc_limit: 100,
            ..Default::default()
        }),
        height: 4,
        ..Default::default()
    }
}

async fn next_on(subscriber: &mut Subscriber, topic: &str) -> Vec<u8> {
    let received = tokio::time::timeout(Duration::from_secs(10), subscriber.recv())
        .await
        .unwrap_or_else(|_| panic!("no broadcast on {topic}"))
        .expect("subscription open");
    assert_eq!(received.topic, topic);
    received.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mempool_follows_broadcasts_and_answers_every_rpc() {
    let vhost = Vhost::new("mempool");
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-mempool"),
        &vhost,
        dir.path(),
        &["--transaction-expiration", "4", "--readiness-delay", "12"],
    );
    let conn = vhost.connect().await;
    let client: MempoolClient = client(&conn, "mempool");
    wait_serving(&client, &process).await;
    // Serving at once, but not ready before one readiness window.
    assert!(!process.is_ready(), "ready before the readiness delay");

    let mut accepts = Subscriber::subscribe(&conn, &["koinos.mempool.accept"]);
    let mut blocks = Subscriber::subscribe(&conn, &["koinos.mempool.block_accepted"]);
    accepts.wait_bound(Duration::from_secs(10)).await.unwrap();
    blocks.wait_bound(Duration::from_secs(10)).await.unwrap();
    let broadcaster = Broadcaster::new(&conn);
    for (n, nonce) in [(1, 1), (2, 2)] {
        broadcaster
            .publish(
                "koinos.transaction.accept",
                &accepted(n, nonce).encode_to_vec(),
            )
            .await
            .unwrap();
        let body = next_on(&mut accepts, "koinos.mempool.accept").await;
        let mempool_accepted = MempoolAccepted::decode(body.as_slice()).unwrap();
        assert_eq!(mempool_accepted.transaction, accepted(n, nonce).transaction);
        assert_eq!(
            (mempool_accepted.height, mempool_accepted.pending_rc_used),
            (4, 100 * u64::from(n))
        );
    }
    assert_eq!(pending_ids(&client).await, vec![tx_id(1), tx_id(2)]);

    let nonce = call(
        &client,
        Request::GetPendingNonce(GetPendingNonceRequest {
            payee: ALICE.to_vec(),
            block_id: None,
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        nonce,
        Response::GetPendingNonce(koinos_protocol::rpc::mempool::GetPendingNonceResponse {
            nonce: encode_nonce(2)
        })
    );
    let count = call(
        &client,
        Request::GetPendingTransactionCount(GetPendingTransactionCountRequest {
            payee: ALICE.to_vec(),
            block_id: None,
        }),
    )
    .await
    .unwrap();
    assert!(matches!(count, Response::GetPendingTransactionCount(r) if r.count == 2));
    for (nonce, free) in [(2, false), (3, true)] {
        let checked = call(
            &client,
            Request::CheckAccountNonce(CheckAccountNonceRequest {
                payee: ALICE.to_vec(),
                nonce: encode_nonce(nonce),
                block_id: None,
            }),
        )
        .await
        .unwrap();
        assert!(matches!(checked, Response::CheckAccountNonce(r) if r.success == free));
    }
    for (rc_limit, fits) in [(800, true), (801, false)] {
        let checked = call(
            &client,
            Request::CheckPendingAccountResources(CheckPendingAccountResourcesRequest {
                payer: ALICE.to_vec(),
                max_payer_rc: 1000,
                rc_limit,
                block_id: None,
            }),
        )
        .await
        .unwrap();
        assert!(matches!(checked, Response::CheckPendingAccountResources(r) if r.success == fits));
    }
    let reserved = call(
        &client,
        Request::GetReservedAccountRc(GetReservedAccountRcRequest {
            account: ALICE.to_vec(),
        }),
    )
    .await
    .unwrap();
    assert!(matches!(reserved, Response::GetReservedAccountRc(r) if r.rc == 200));
    let by_id = call(
        &client,
        Request::GetPendingTransactionsById(GetPendingTransactionsByIdRequest {
            transaction_ids: vec![tx_id(2), tx_id(7)],
            block_id: None,
        }),
    )
    .await
    .unwrap();
    assert!(
        matches!(by_id, Response::GetPendingTransactionsById(r) if r.pending_transactions.len() == 1)
    );
    let too_many = call(
        &client,
        Request::GetPendingTransactions(GetPendingTransactionsRequest {
            limit: 2001,
            block_id: None,
        }),
    )
    .await
    .unwrap_err();
    assert!(
        too_many
            .to_string()
            .contains("requested too many pending transactions"),
        "{too_many}"
    );

    // A block including tx 1: re-published byte for byte, and tx 1 leaves the head's set.
    let block_accepted = BlockAccepted {
        block: Some(block(1, 1, zero_id(), vec![transaction(1, &ALICE, 1, 100)])),
        live: true,
        head: true,
        ..Default::default()
    }
    .encode_to_vec();
    broadcaster
        .publish("koinos.block.accept", &block_accepted)
        .await
        .unwrap();
    assert_eq!(
        next_on(&mut blocks, "koinos.mempool.block_accepted").await,
        block_accepted
    );
    assert_eq!(pending_ids(&client).await, vec![tx_id(2)]);

    // A failed transaction is removed.
    let failed = TransactionFailed { id: tx_id(2) }.encode_to_vec();
    broadcaster
        .publish("koinos.transaction.fail", &failed)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "tx 2 removed", || async {
        pending_ids(&client).await.is_empty()
    })
    .await;

    // A pending transaction expires after transaction-expiration (4 s), pruned every second.
    broadcaster
        .publish("koinos.transaction.accept", &accepted(3, 3).encode_to_vec())
        .await
        .unwrap();
    next_on(&mut accepts, "koinos.mempool.accept").await;
    assert_eq!(pending_ids(&client).await, vec![tx_id(3)]);
    eventually(Duration::from_secs(15), "tx 3 to expire", || async {
        pending_ids(&client).await.is_empty()
    })
    .await;

    eventually(
        Duration::from_secs(20),
        "readiness after the delay",
        || async { process.is_ready() },
    )
    .await;
    drop(process);
}
