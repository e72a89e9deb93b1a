//! A new block_store replica copies the blocks it lacks from its peers before it serves.

use std::time::Duration;

use koinos_services::block_store::BlockStore;

use crate::stores_support::*;
use crate::{BlockStoreClient, by_height, highest};

const BLOCKS: u64 = 2500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replica_copies_missing_blocks_from_its_peers_before_serving() {
    let vhost = Vhost::new("block_store_catch_up");
    let (peer_dir, new_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    {
        // The peer's volume already holds the chain (written directly, in pages).
        let store = BlockStore::open(peer_dir.path(), false).unwrap();
        let mut previous = zero_id();
        let mut page = Vec::new();
        for h in 1..=BLOCKS {
            page.push((block(1, h, previous, vec![]), Some(receipt(1, h, 16))));
            previous = block_id(1, h);
            if page.len() == 1000 || h == BLOCKS {
                store.add_blocks(std::mem::take(&mut page)).unwrap();
            }
        }
    }
    let binary = env!("CARGO_BIN_EXE_koinos-block-store");
    let conn = vhost.connect().await;
    let client: BlockStoreClient = client(&conn, "block_store");
    let mut peer = ServiceProcess::spawn(binary, &vhost, peer_dir.path(), &[]);
    wait_serving(&client, &peer).await;

    let replica = ServiceProcess::spawn(binary, &vhost, new_dir.path(), &[]);
    eventually(
        Duration::from_secs(90),
        "the new replica to be ready",
        || async { replica.is_ready() },
    )
    .await;
    assert!(
        replica.log_text().contains("caught up"),
        "{}",
        replica.log_text()
    );
    // Only the new replica is left to answer: it has every block.
    peer.kill();
    assert_eq!(highest(&client).await.height, BLOCKS);
    let mut start = 1;
    while start <= BLOCKS {
        let items = by_height(&client, block_id(1, BLOCKS), start, 1000)
            .await
            .unwrap();
        for item in &items {
            assert_eq!(item.block_id, block_id(1, item.block_height));
            assert_eq!(item.receipt, Some(receipt(1, item.block_height, 16)));
        }
        start += items.len() as u64;
    }
    assert_eq!(start, BLOCKS + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_transaction_store_records_missed_blocks_from_block_store_before_serving() {
    use koinos_protocol::rpc::transaction_store::{
        GetTransactionsByIdRequest, TransactionStoreRequest, TransactionStoreResponse,
        transaction_store_request, transaction_store_response,
    };
    use koinos_services::mq::typed::TypedClient;

    const HEIGHT: u64 = 1200;
    let vhost = Vhost::new("transaction_store_catch_up");
    let (block_store_dir, tx_store_dir) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    {
        // block_store already holds blocks whose transaction `h` sits in block `h`.
        let store = BlockStore::open(block_store_dir.path(), false).unwrap();
        let mut previous = zero_id();
        let mut page = Vec::new();
        for h in 1..=HEIGHT {
            let txs = vec![transaction(h as u32, &[0xa1; 25], h, 10)];
            page.push((block(1, h, previous, txs), None));
            previous = block_id(1, h);
            if page.len() == 500 || h == HEIGHT {
                store.add_blocks(std::mem::take(&mut page)).unwrap();
            }
        }
    }
    let block_store = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-block-store"),
        &vhost,
        block_store_dir.path(),
        &[],
    );
    let conn = vhost.connect().await;
    let blocks: BlockStoreClient = client(&conn, "block_store");
    wait_serving(&blocks, &block_store).await;
    let tx_store = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-transaction-store"),
        &vhost,
        tx_store_dir.path(),
        &[],
    );
    eventually(
        Duration::from_secs(90),
        "the transaction store to be ready",
        || async { tx_store.is_ready() },
    )
    .await;
    let client: TypedClient<TransactionStoreRequest, TransactionStoreResponse> =
        client(&conn, "transaction_store");
    let ids = vec![tx_id(1), tx_id(600), tx_id(HEIGHT as u32)];
    let request =
        transaction_store_request::Request::GetTransactionsById(GetTransactionsByIdRequest {
            transaction_ids: ids,
        });
    let response = client
        .call(&TransactionStoreRequest {
            request: Some(request),
        })
        .await
        .unwrap();
    let Some(transaction_store_response::Response::GetTransactionsById(r)) = response.response
    else {
        panic!("unexpected response");
    };
    let containing: Vec<_> = r
        .transactions
        .iter()
        .map(|t| t.containing_blocks.clone())
        .collect();
    assert_eq!(
        containing,
        vec![
            vec![block_id(1, 1)],
            vec![block_id(1, 600)],
            vec![block_id(1, HEIGHT)]
        ]
    );
    drop(block_store);
}
