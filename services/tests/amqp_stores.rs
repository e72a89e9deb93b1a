//! block_store, transaction_store and mempool as processes on a real RabbitMQ (127.0.0.1:5672,
//! one private vhost per test), driven over AMQP exactly as chain, jsonrpc and the producer
//! drive them. Fails loudly without a broker: `bash scripts/ensure-rabbitmq.sh`.

mod stores_support;

use std::time::Duration;

use koinos_protocol::broadcast::BlockAccepted;
use koinos_protocol::rpc::block_store::{
    AddBlockRequest, BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightRequest,
    GetBlocksByIdRequest, GetHighestBlockRequest, block_store_request, block_store_response,
};
use koinos_protocol::rpc::transaction_store::{
    GetTransactionsByIdRequest, TransactionStoreRequest, TransactionStoreResponse,
    transaction_store_request, transaction_store_response,
};
use koinos_protocol::{Block, BlockReceipt, BlockTopology};
use koinos_services::mq::Broadcaster;
use koinos_services::mq::typed::{CallError, TypedClient};
use prost::Message;
use stores_support::*;

#[path = "amqp_stores/catch_up.rs"]
mod catch_up;
#[path = "amqp_stores/mempool.rs"]
mod mempool;
#[path = "amqp_stores/official_errors.rs"]
mod official_errors;

type BlockStoreClient = TypedClient<BlockStoreRequest, BlockStoreResponse>;

async fn add_block(client: &BlockStoreClient, block: Block, receipt: BlockReceipt) {
    let request = block_store_request::Request::AddBlock(AddBlockRequest {
        block_to_add: Some(block),
        receipt_to_add: Some(receipt),
    });
    let response = client
        .call(&BlockStoreRequest {
            request: Some(request),
        })
        .await
        .expect("add_block");
    assert!(matches!(
        response.response,
        Some(block_store_response::Response::AddBlock(_))
    ));
}

async fn highest(client: &BlockStoreClient) -> BlockTopology {
    let request = block_store_request::Request::GetHighestBlock(GetHighestBlockRequest {});
    match client
        .call(&BlockStoreRequest {
            request: Some(request),
        })
        .await
        .expect("get_highest_block")
        .response
    {
        Some(block_store_response::Response::GetHighestBlock(r)) => r.topology.unwrap(),
        other => panic!("unexpected response {other:?}"),
    }
}

async fn by_height(
    client: &BlockStoreClient,
    head: Vec<u8>,
    start: u64,
    num: u32,
) -> Result<Vec<koinos_protocol::pb::koinos::block_store::BlockItem>, CallError> {
    let request = block_store_request::Request::GetBlocksByHeight(GetBlocksByHeightRequest {
        head_block_id: head,
        ancestor_start_height: start,
        num_blocks: num,
        return_block: true,
        return_receipt: true,
    });
    let response = client
        .call(&BlockStoreRequest {
            request: Some(request),
        })
        .await?;
    match response.response {
        Some(block_store_response::Response::GetBlocksByHeight(r)) => Ok(r.block_items),
        other => panic!("unexpected response {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_store_serves_blocks_added_by_rpc_and_by_broadcast() {
    let vhost = Vhost::new("block_store");
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-block-store"),
        &vhost,
        dir.path(),
        &[],
    );
    let conn = vhost.connect().await;
    let client: BlockStoreClient = client(&conn, "block_store");
    wait_serving(&client, &process).await;
    assert_eq!(highest(&client).await.id, zero_id());

    // Blocks 1..=10 by add_block (chain's path), 11..=20 by koinos.block.accept.
    let mut previous = zero_id();
    for h in 1..=10 {
        add_block(&client, block(1, h, previous, vec![]), receipt(1, h, 64)).await;
        previous = block_id(1, h);
    }
    let broadcaster = Broadcaster::new(&conn);
    for h in 11..=20 {
        let accepted = BlockAccepted {
            block: Some(block(1, h, previous, vec![])),
            receipt: Some(receipt(1, h, 64)),
            live: true,
            head: true,
        };
        broadcaster
            .publish("koinos.block.accept", &accepted.encode_to_vec())
            .await
            .unwrap();
        previous = block_id(1, h);
    }
    eventually(
        Duration::from_secs(10),
        "block 20 to be the highest",
        || async { highest(&client).await.height == 20 },
    )
    .await;

    let items = by_height(&client, block_id(1, 20), 1, 1000).await.unwrap();
    assert_eq!(items.len(), 20);
    for (i, item) in items.iter().enumerate() {
        let h = i as u64 + 1;
        assert_eq!(
            (item.block_id.clone(), item.block_height),
            (block_id(1, h), h)
        );
        // Full receipts are kept: chain catch-up replays their state deltas.
        assert_eq!(item.receipt, Some(receipt(1, h, 64)));
        assert_eq!(
            item.block.as_ref().unwrap().header.as_ref().unwrap().height,
            h
        );
    }
    // The documented errors come back as error responses.
    let err = by_height(&client, block_id(1, 20), 0, 1).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("ancestor_start_height must be greater than 0"),
        "{err}"
    );
    let err = by_height(&client, block_id(1, 5), 6, 1).await.unwrap_err();
    assert!(err.to_string().contains("Block height mismatch"), "{err}");
    assert!(
        by_height(&client, block_id(1, 5), 1, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown ids get an empty item in their slot.
    let request = block_store_request::Request::GetBlocksById(GetBlocksByIdRequest {
        block_ids: vec![block_id(1, 3), block_id(9, 9)],
        return_block: false,
        return_receipt: false,
    });
    let response = client
        .call(&BlockStoreRequest {
            request: Some(request),
        })
        .await
        .unwrap();
    let Some(block_store_response::Response::GetBlocksById(r)) = response.response else {
        panic!("unexpected response");
    };
    assert_eq!(r.block_items.len(), 2);
    assert_eq!(
        (
            r.block_items[0].block_height,
            r.block_items[0].block.is_none()
        ),
        (3, true)
    );
    assert_eq!(r.block_items[1], Default::default());
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_store_records_every_containing_block_from_broadcasts() {
    let vhost = Vhost::new("transaction_store");
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-transaction-store"),
        &vhost,
        dir.path(),
        &[],
    );
    let conn = vhost.connect().await;
    let client: TypedClient<TransactionStoreRequest, TransactionStoreResponse> =
        client(&conn, "transaction_store");
    wait_serving(&client, &process).await;

    let payer = [0xa1; 25];
    let broadcaster = Broadcaster::new(&conn);
    // Tx 1 lands in block 1 of two forks; the fork-1 block is broadcast twice.
    let blocks = [
        block(
            1,
            1,
            zero_id(),
            vec![transaction(1, &payer, 1, 10), transaction(2, &payer, 2, 10)],
        ),
        block(2, 1, zero_id(), vec![transaction(1, &payer, 1, 10)]),
        block(
            1,
            1,
            zero_id(),
            vec![transaction(1, &payer, 1, 10), transaction(2, &payer, 2, 10)],
        ),
    ];
    for b in blocks {
        let accepted = BlockAccepted {
            block: Some(b),
            ..Default::default()
        };
        broadcaster
            .publish("koinos.block.accept", &accepted.encode_to_vec())
            .await
            .unwrap();
    }
    let get = |ids: Vec<Vec<u8>>| {
        let client = client.clone();
        async move {
            let request = transaction_store_request::Request::GetTransactionsById(
                GetTransactionsByIdRequest {
                    transaction_ids: ids,
                },
            );
            match client
                .call(&TransactionStoreRequest {
                    request: Some(request),
                })
                .await
                .unwrap()
                .response
            {
                Some(transaction_store_response::Response::GetTransactionsById(r)) => {
                    r.transactions
                }
                other => panic!("unexpected response {other:?}"),
            }
        }
    };
    eventually(
        Duration::from_secs(10),
        "tx 1 in both forks' blocks",
        || async {
            get(vec![tx_id(1)])
                .await
                .first()
                .is_some_and(|item| item.containing_blocks.len() == 2)
        },
    )
    .await;
    let items = get(vec![tx_id(9), tx_id(1), tx_id(2)]).await;
    assert_eq!(items.len(), 2, "unknown ids are skipped");
    assert_eq!(items[0].transaction.as_ref().unwrap().id, tx_id(1));
    assert_eq!(
        items[0].containing_blocks,
        vec![block_id(1, 1), block_id(2, 1)]
    );
    assert_eq!(items[1].containing_blocks, vec![block_id(1, 1)]);
    drop(process);
}

/// State delta per block in the crash test: big enough that writes take a while.
const DELTA_BYTES: usize = 32 * 1024;

/// `kill -9` of block_store while it writes, several times: it restarts on the same volume
/// without corruption and every block it acknowledged is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_store_survives_kill_9_mid_write_without_losing_acknowledged_blocks() {
    let vhost = Vhost::new("block_store_crash");
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_koinos-block-store");
    let conn = vhost.connect().await;
    let client: BlockStoreClient = client(&conn, "block_store");
    let mut acknowledged = 0u64;
    for round in 0..4u64 {
        let mut process = ServiceProcess::spawn(binary, &vhost, dir.path(), &[]);
        wait_serving(&client, &process).await;
        // Everything acknowledged before the previous crash is still there, intact.
        let top = highest(&client).await;
        assert!(
            top.height >= acknowledged,
            "round {round}: highest {} < acknowledged {acknowledged}",
            top.height
        );
        verify_chain(&client, acknowledged).await;
        // Write big blocks (each one fsynced) and crash at a moment no write is waited for.
        let writer = {
            let client = client.clone();
            let start = top.height + 1;
            tokio::spawn(async move {
                let mut previous = if start == 1 {
                    zero_id()
                } else {
                    block_id(1, start - 1)
                };
                let mut last = start - 1;
                for h in start.. {
                    let request = block_store_request::Request::AddBlock(AddBlockRequest {
                        block_to_add: Some(block(1, h, previous.clone(), vec![])),
                        receipt_to_add: Some(receipt(1, h, DELTA_BYTES)),
                    });
                    let request = BlockStoreRequest {
                        request: Some(request),
                    };
                    if client.call(&request).await.is_err() {
                        break;
                    }
                    last = h;
                    previous = block_id(1, h);
                }
                last
            })
        };
        tokio::time::sleep(Duration::from_millis(700 + 350 * round)).await;
        process.kill();
        let last = writer.await.unwrap();
        assert!(
            last > acknowledged,
            "round {round}: nothing written before the kill"
        );
        println!(
            "round {round}: highest {} at start, acknowledged up to {last}",
            top.height
        );
        acknowledged = last;
    }
    let process = ServiceProcess::spawn(binary, &vhost, dir.path(), &[]);
    wait_serving(&client, &process).await;
    assert!(highest(&client).await.height >= acknowledged);
    verify_chain(&client, acknowledged).await;
    drop(process);
}

/// Blocks 1..=`height` of fork 1 are all present, linked and complete.
async fn verify_chain(client: &BlockStoreClient, height: u64) {
    let mut start = 1;
    while start <= height {
        let items = by_height(client, block_id(1, height), start, 100)
            .await
            .unwrap_or_else(|e| panic!("reading blocks from {start} up to {height}: {e}"));
        for item in &items {
            assert_eq!(item.block_id, block_id(1, item.block_height));
            let receipt = item.receipt.as_ref().expect("receipt kept");
            assert_eq!(
                receipt.state_delta_entries[0].value.as_ref().unwrap().len(),
                DELTA_BYTES
            );
        }
        start += items.len() as u64;
    }
}
