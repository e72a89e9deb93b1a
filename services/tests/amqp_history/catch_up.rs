//! A new account_history replica replays what it missed from block_store: at start-up before
//! it serves, and when a broadcast block does not link to what it has.

use std::time::Duration;

use koinos_protocol::rpc::block_store::{
    AddBlockRequest, BlockStoreRequest, BlockStoreResponse, block_store_request,
};
use koinos_services::block_store::BlockStore;
use koinos_services::mq::typed::TypedClient;

use crate::stores_support::*;
use crate::*;

const HEIGHT: u64 = 1100;

/// Block `h` of fork 1: ALICE pays transfer `h` to BOB.
fn chain_block(h: u64) -> koinos_protocol::broadcast::BlockAccepted {
    let previous = if h == 1 {
        zero_id()
    } else {
        block_id(1, h - 1)
    };
    accepted(1, h, previous, vec![transfer(h as u32, &ALICE, &BOB)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_history_replays_block_store_before_serving_and_fills_gaps() {
    let vhost = Vhost::new("account_history_catch_up");
    let (block_store_dir, history_dir) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    {
        let store = BlockStore::open(block_store_dir.path(), false).unwrap();
        let mut page = Vec::new();
        for h in 1..=HEIGHT {
            let accepted = chain_block(h);
            page.push((accepted.block.unwrap(), accepted.receipt));
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
    let blocks: TypedClient<BlockStoreRequest, BlockStoreResponse> = client(&conn, "block_store");
    wait_serving(&blocks, &block_store).await;

    let process = spawn_history(&vhost, history_dir.path());
    eventually(
        Duration::from_secs(90),
        "account_history to be ready",
        || async { process.is_ready() },
    )
    .await;
    assert!(
        process.log_text().contains("caught up"),
        "{}",
        process.log_text()
    );
    let client: HistoryClient = client(&conn, "account_history");
    let newest = history(&client, &ALICE, None, 2, false, false)
        .await
        .unwrap();
    assert_eq!(
        newest,
        vec![
            (HEIGHT - 1, tx_id(HEIGHT as u32)),
            (HEIGHT - 2, tx_id(HEIGHT as u32 - 1))
        ]
    );
    let oldest = history(&client, &BOB, None, 500, true, false)
        .await
        .unwrap();
    assert_eq!(oldest.len(), 500);
    assert_eq!(oldest[499], (499, tx_id(500)));
    let producer = history(&client, &PRODUCER, Some(1099), 5, true, false)
        .await
        .unwrap();
    assert_eq!(producer, vec![(1099, block_id(1, 1100))]);

    // Block HEIGHT+1 reaches block_store only; HEIGHT+2 is broadcast: it does not link, so the
    // replica fetches the gap from block_store.
    for h in [HEIGHT + 1, HEIGHT + 2] {
        let accepted = chain_block(h);
        let request = block_store_request::Request::AddBlock(AddBlockRequest {
            block_to_add: accepted.block.clone(),
            receipt_to_add: accepted.receipt.clone(),
        });
        blocks
            .call(&BlockStoreRequest {
                request: Some(request),
            })
            .await
            .expect("add_block");
    }
    publish(&conn, &chain_block(HEIGHT + 2)).await;
    eventually(Duration::from_secs(20), "the gap to be filled", || async {
        history(&client, &ALICE, None, 2, false, false)
            .await
            .is_ok_and(|v| {
                v == vec![
                    (HEIGHT + 1, tx_id(HEIGHT as u32 + 2)),
                    (HEIGHT, tx_id(HEIGHT as u32 + 1)),
                ]
            })
    })
    .await;
    // Without chain, blocks up to block_store's highest − 61 became irreversible (chain's LIB
    // rule) and the rest stayed reversible; chain's LIB then commits the branch up to it.
    let lib = HEIGHT - 61;
    let irreversible = history(&client, &ALICE, None, 1, false, true)
        .await
        .unwrap();
    assert_eq!(irreversible, vec![(lib - 1, tx_id(lib as u32))]);
    publish_irreversible(&conn, 1, HEIGHT + 1).await;
    eventually(
        Duration::from_secs(20),
        "the branch to be irreversible",
        || async {
            history(&client, &ALICE, None, 1, false, true)
                .await
                .is_ok_and(|v| v == vec![(HEIGHT, tx_id(HEIGHT as u32 + 1))])
        },
    )
    .await;
    drop(process);
    drop(block_store);
}
