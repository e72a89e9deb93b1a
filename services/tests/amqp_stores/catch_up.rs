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
