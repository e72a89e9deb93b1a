//! `kill -9` of block_store while blocks are being produced: after a restart its database
//! opens, production resumes, and every block from 1 to the head is served, linked, with no gap.

mod node_support;

use std::time::Duration;

use node_support::TestNet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_store_killed_mid_run_recovers_without_corruption_or_gaps() {
    let mut net = TestNet::start("block-store-crash", 150);
    let mut height = net.wait_height(5, Duration::from_secs(90)).await;
    for round in 0..3 {
        // Kill while the producer is proposing (every 150 ms a block is being stored).
        net.node.kill("block_store");
        tokio::time::sleep(Duration::from_millis(700 + 300 * round)).await;
        net.node.start("block_store").unwrap();
        height = net.wait_height(height + 5, Duration::from_secs(90)).await;
    }

    let blocks = net.blocks(height).await;
    assert_eq!(
        blocks.len() as u64,
        height,
        "no missing blocks from 1 to {height}"
    );
    net.assert_linked(&blocks);
    let highest = net
        .call("block_store.get_highest_block", serde_json::json!({}))
        .await
        .unwrap();
    let highest: u64 = highest["topology"]["height"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        highest >= height,
        "block_store's highest block {highest} < head {height}"
    );
}
