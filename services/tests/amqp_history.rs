//! account_history and contract_meta_store as processes on a real RabbitMQ (127.0.0.1:5672, one
//! private vhost per test), fed by `koinos.block.accept` / `koinos.block.irreversible` and by
//! block_store, queried over AMQP. Fails loudly without a broker:
//! `bash scripts/ensure-rabbitmq.sh`.

mod stores_support;

use std::time::Duration;

use koinos_protocol::broadcast::{BlockAccepted, BlockIrreversible};
use koinos_protocol::pb::koinos::protocol::{
    CallContractOperation, EventData, Operation, operation::Op,
};
use koinos_protocol::rpc::account_history::{
    AccountHistoryRequest, AccountHistoryResponse, GetAccountHistoryRequest, account_history_entry,
    account_history_request, account_history_response,
};
use koinos_protocol::{BlockReceipt, BlockTopology, Transaction, TransactionReceipt};
use koinos_services::mq::typed::{CallError, TypedClient};
use koinos_services::mq::{Broadcaster, Connection};
use prost::Message;
use stores_support::*;

#[path = "amqp_history/catch_up.rs"]
mod catch_up;
#[path = "amqp_history/contract_meta.rs"]
mod contract_meta;

pub const PRODUCER: [u8; 25] = [0x90; 25];
pub const ALICE: [u8; 25] = [0xa1; 25];
pub const BOB: [u8; 25] = [0xb0; 25];
pub const CAROL: [u8; 25] = [0xc0; 25];
pub const TOKEN: [u8; 25] = [0x70; 25];

pub type HistoryClient = TypedClient<AccountHistoryRequest, AccountHistoryResponse>;

/// Transaction `n`: `from` pays a KCS-4 transfer of the token to `to`.
pub fn transfer(n: u32, from: &[u8], to: &[u8]) -> (Transaction, TransactionReceipt) {
    let mut transaction = transaction(n, from, u64::from(n), 10);
    transaction.operations = vec![Operation {
        op: Some(Op::CallContract(CallContractOperation {
            contract_id: TOKEN.to_vec(),
            entry_point: 0x27f5_76ca,
            args: vec![],
        })),
    }];
    let receipt = TransactionReceipt {
        id: tx_id(n),
        payer: from.to_vec(),
        events: vec![EventData {
            source: TOKEN.to_vec(),
            name: "token.transfer_event".into(),
            impacted: vec![to.to_vec(), from.to_vec()],
            ..Default::default()
        }],
        ..Default::default()
    };
    (transaction, receipt)
}

/// Block `height` of `fork` on `previous`, signed by [`PRODUCER`], with its receipt.
pub fn accepted(
    fork: u8,
    height: u64,
    previous: Vec<u8>,
    transactions: Vec<(Transaction, TransactionReceipt)>,
) -> BlockAccepted {
    let (transactions, receipts): (Vec<_>, Vec<_>) = transactions.into_iter().unzip();
    let mut block = block(fork, height, previous, transactions);
    block.header.as_mut().unwrap().signer = PRODUCER.to_vec();
    BlockAccepted {
        block: Some(block),
        receipt: Some(BlockReceipt {
            id: block_id(fork, height),
            height,
            transaction_receipts: receipts,
            ..Default::default()
        }),
        live: true,
        head: true,
    }
}

pub async fn publish(conn: &Connection, accepted: &BlockAccepted) {
    Broadcaster::new(conn)
        .publish("koinos.block.accept", &accepted.encode_to_vec())
        .await
        .expect("publish koinos.block.accept");
}

pub async fn publish_irreversible(conn: &Connection, fork: u8, height: u64) {
    let lib = BlockIrreversible {
        topology: Some(BlockTopology {
            id: block_id(fork, height),
            height,
            previous: vec![],
        }),
    };
    Broadcaster::new(conn)
        .publish("koinos.block.irreversible", &lib.encode_to_vec())
        .await
        .expect("publish koinos.block.irreversible");
}

/// `get_account_history` as `(seq_num, tx id or block id)` pairs.
pub async fn history(
    client: &HistoryClient,
    address: &[u8],
    seq_num: Option<u64>,
    limit: u64,
    ascending: bool,
    irreversible: bool,
) -> Result<Vec<(u64, Vec<u8>)>, CallError> {
    let request = account_history_request::Request::GetAccountHistory(GetAccountHistoryRequest {
        address: address.to_vec(),
        seq_num,
        limit,
        ascending,
        irreversible,
    });
    let response = client
        .call(&AccountHistoryRequest {
            request: Some(request),
        })
        .await?;
    let Some(account_history_response::Response::GetAccountHistory(r)) = response.response else {
        panic!("unexpected response {response:?}");
    };
    Ok(r.values
        .into_iter()
        .map(|entry| match entry.record.expect("a record") {
            account_history_entry::Record::Trx(t) => (entry.seq_num, t.transaction.unwrap().id),
            account_history_entry::Record::Block(b) => (entry.seq_num, b.receipt.unwrap().id),
        })
        .collect())
}

pub fn spawn_history(vhost: &Vhost, dir: &std::path::Path) -> ServiceProcess {
    ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-account-history"),
        vhost,
        dir,
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_history_of_transfers_reads_both_ways_and_survives_a_restart() {
    let vhost = Vhost::new("account_history");
    let dir = tempfile::tempdir().unwrap();
    let process = spawn_history(&vhost, dir.path());
    let conn = vhost.connect().await;
    let client: HistoryClient = client(&conn, "account_history");
    wait_serving(&client, &process).await;

    // Block h holds transfer h: ALICE → BOB for odd h, BOB → CAROL for even h.
    let mut previous = zero_id();
    for h in 1..=6u64 {
        let tx = if h % 2 == 1 {
            transfer(h as u32, &ALICE, &BOB)
        } else {
            transfer(h as u32, &BOB, &CAROL)
        };
        publish(&conn, &accepted(1, h, previous, vec![tx])).await;
        previous = block_id(1, h);
    }
    eventually(Duration::from_secs(10), "six token records", || async {
        history(&client, &TOKEN, None, 10, true, false)
            .await
            .is_ok_and(|v| v.len() == 6)
    })
    .await;
    let ids = |ns: &[u32]| -> Vec<Vec<u8>> { ns.iter().map(|n| tx_id(*n)).collect() };
    let only_ids =
        |v: Vec<(u64, Vec<u8>)>| -> Vec<Vec<u8>> { v.into_iter().map(|e| e.1).collect() };
    // Payer, recipient and contract each number their records from 0.
    let alice = history(&client, &ALICE, None, 10, true, false)
        .await
        .unwrap();
    assert_eq!(alice, vec![(0, tx_id(1)), (1, tx_id(3)), (2, tx_id(5))]);
    let bob = history(&client, &BOB, None, 10, true, false).await.unwrap();
    assert_eq!(only_ids(bob), ids(&[1, 2, 3, 4, 5, 6]));
    let carol = history(&client, &CAROL, None, 10, false, false)
        .await
        .unwrap();
    assert_eq!(carol, vec![(2, tx_id(6)), (1, tx_id(4)), (0, tx_id(2))]);
    // seq_num and limit, both ways.
    let page = history(&client, &BOB, Some(2), 2, true, false)
        .await
        .unwrap();
    assert_eq!(page, vec![(2, tx_id(3)), (3, tx_id(4))]);
    let page = history(&client, &BOB, Some(2), 5, false, false)
        .await
        .unwrap();
    assert_eq!(page, vec![(2, tx_id(3)), (1, tx_id(2)), (0, tx_id(1))]);
    let newest = history(&client, &TOKEN, None, 1, false, false)
        .await
        .unwrap();
    assert_eq!(newest, vec![(5, tx_id(6))]);
    // The producer's history holds the blocks it signed.
    let blocks = history(&client, &PRODUCER, None, 2, true, false)
        .await
        .unwrap();
    assert_eq!(blocks, vec![(0, block_id(1, 1)), (1, block_id(1, 2))]);
    // Over the limit: the documented error.
    let err = history(&client, &BOB, None, 501, true, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("request limit exceeded"), "{err}");
    assert_eq!(
        history(&client, &BOB, None, 500, true, false)
            .await
            .unwrap()
            .len(),
        6
    );

    // Nothing is irreversible until chain says so.
    assert!(
        history(&client, &BOB, None, 10, true, true)
            .await
            .unwrap()
            .is_empty()
    );
    publish_irreversible(&conn, 1, 4).await;
    eventually(
        Duration::from_secs(10),
        "blocks 1-4 irreversible",
        || async {
            history(&client, &BOB, None, 10, true, true)
                .await
                .is_ok_and(|v| v.len() == 4)
        },
    )
    .await;
    let irreversible = history(&client, &BOB, None, 10, false, true).await.unwrap();
    assert_eq!(only_ids(irreversible), ids(&[4, 3, 2, 1]));

    // A restart keeps the irreversible and the reversible records.
    drop(process);
    let process = spawn_history(&vhost, dir.path());
    wait_serving(&client, &process).await;
    let bob = history(&client, &BOB, None, 10, true, false).await.unwrap();
    assert_eq!(only_ids(bob), ids(&[1, 2, 3, 4, 5, 6]));
    assert_eq!(
        history(&client, &BOB, None, 10, true, true)
            .await
            .unwrap()
            .len(),
        4
    );
    // And numbering continues after it.
    publish(
        &conn,
        &accepted(1, 7, block_id(1, 6), vec![transfer(7, &CAROL, &ALICE)]),
    )
    .await;
    eventually(Duration::from_secs(10), "block 7 recorded", || async {
        history(&client, &ALICE, None, 1, false, false)
            .await
            .is_ok_and(|v| v == vec![(3, tx_id(7))])
    })
    .await;
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_on_a_losing_fork_leaves_the_history_when_the_other_fork_wins() {
    let vhost = Vhost::new("account_history_fork");
    let dir = tempfile::tempdir().unwrap();
    let process = spawn_history(&vhost, dir.path());
    let conn = vhost.connect().await;
    let client: HistoryClient = client(&conn, "account_history");
    wait_serving(&client, &process).await;

    publish(
        &conn,
        &accepted(1, 1, zero_id(), vec![transfer(1, &ALICE, &BOB)]),
    )
    .await;
    // Fork 2 at height 2 arrives first and becomes the head: CAROL pays in it.
    publish(
        &conn,
        &accepted(2, 2, block_id(1, 1), vec![transfer(20, &CAROL, &BOB)]),
    )
    .await;
    eventually(Duration::from_secs(10), "the fork-2 transfer", || async {
        history(&client, &CAROL, None, 10, true, false)
            .await
            .is_ok_and(|v| v == vec![(0, tx_id(20))])
    })
    .await;
    // Fork 1 reaches height 3 and wins (fifo): the fork-2 record is gone and BOB's numbering
    // follows fork 1 only.
    publish(
        &conn,
        &accepted(1, 2, block_id(1, 1), vec![transfer(2, &ALICE, &BOB)]),
    )
    .await;
    publish(
        &conn,
        &accepted(1, 3, block_id(1, 2), vec![transfer(3, &ALICE, &BOB)]),
    )
    .await;
    eventually(Duration::from_secs(10), "fork 1 to win", || async {
        history(&client, &CAROL, None, 10, true, false)
            .await
            .is_ok_and(|v| v.is_empty())
    })
    .await;
    let bob = history(&client, &BOB, None, 10, true, false).await.unwrap();
    assert_eq!(bob, vec![(0, tx_id(1)), (1, tx_id(2)), (2, tx_id(3))]);
    // Irreversibility makes that final, also after a restart; fork 2 cannot come back.
    publish_irreversible(&conn, 1, 2).await;
    eventually(Duration::from_secs(10), "block 2 irreversible", || async {
        history(&client, &BOB, None, 10, true, true)
            .await
            .is_ok_and(|v| v.len() == 2)
    })
    .await;
    drop(process);
    let process = spawn_history(&vhost, dir.path());
    wait_serving(&client, &process).await;
    publish(
        &conn,
        &accepted(2, 3, block_id(2, 2), vec![transfer(21, &CAROL, &BOB)]),
    )
    .await;
    publish(
        &conn,
        &accepted(2, 4, block_id(2, 3), vec![transfer(22, &CAROL, &BOB)]),
    )
    .await;
    publish(
        &conn,
        &accepted(1, 4, block_id(1, 3), vec![transfer(4, &ALICE, &BOB)]),
    )
    .await;
    eventually(Duration::from_secs(10), "block 4 of fork 1", || async {
        history(&client, &BOB, None, 10, true, false)
            .await
            .is_ok_and(|v| v.len() == 4)
    })
    .await;
    assert!(
        history(&client, &CAROL, None, 10, true, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        process.log_text().contains("does not link"),
        "{}",
        process.log_text()
    );
    drop(process);
}
