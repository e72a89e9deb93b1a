//! Restarting chain recovers the same head, both on its own state and on an empty volume
//! (catch-up from block_store), and production then continues on that head.

mod node_support;

use std::time::{Duration, Instant};

use node_support::TestNet;
use serde_json::Value;

/// Waits until chain answers `get_head_info` again after a restart.
async fn head_after_restart(net: &TestNet) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(info) = net.call("chain.get_head_info", serde_json::json!({})).await {
            return info;
        }
        if Instant::now() > deadline {
            net.fail("chain did not answer within 60 s of its restart");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn topology(info: &Value) -> (Value, Value, Value) {
    (
        info["head_topology"].clone(),
        info["head_state_merkle_root"].clone(),
        info["last_irreversible_block"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_restarts_on_its_state_and_on_an_empty_volume_with_the_same_head() {
    let mut net = TestNet::start("chain-restart", 200);
    net.wait_height(8, Duration::from_secs(90)).await;

    // Freeze the head: no producer, no new blocks.
    net.node.stop("block_producer");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = net.head().await;
    let height: u64 = before["head_topology"]["height"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(height >= 8);

    net.node.stop("chain");
    net.node.start("chain").unwrap();
    let after = head_after_restart(&net).await;
    assert_eq!(
        topology(&after),
        topology(&before),
        "restart on the same state"
    );

    // Empty volume: the state directory is gone; chain catches up from block_store.
    net.node.stop("chain");
    let statedir = net.dir.path().join("chain/blockchain");
    assert!(
        statedir.exists(),
        "chain keeps its state in {}",
        statedir.display()
    );
    std::fs::remove_dir_all(&statedir).unwrap();
    net.node.start("chain").unwrap();
    let recovered = head_after_restart(&net).await;
    assert_eq!(
        topology(&recovered),
        topology(&before),
        "catch-up from block_store"
    );

    // Production continues on the recovered head.
    net.node.start("block_producer").unwrap();
    let new_height = net.wait_height(height + 3, Duration::from_secs(60)).await;
    let blocks = net.blocks(new_height).await;
    assert_eq!(blocks.len() as u64, new_height);
    net.assert_linked(&blocks);
    assert_eq!(
        blocks[height as usize - 1]["block_id"],
        before["head_topology"]["id"],
        "the old head is still on the main chain"
    );
}
