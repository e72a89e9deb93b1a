//! Two chain processes, each with its own state, on one broker: the second starts late, catches
//! up from block_store (re-executing the blocks: `verify-blocks`), then follows
//! `koinos.block.accept`. The two share `koinos.rpc.chain`, so each applies some proposals
//! and must learn the others from the broadcasts; once the first stops, the second alone has
//! the same head and production continues on it.

mod node_support;

use std::path::Path;
use std::time::{Duration, Instant};

use koinos_services::devnet::launcher::Node;
use node_support::TestNet;
use serde_json::Value;

fn topology(info: &Value) -> (Value, Value, Value) {
    (
        info["head_topology"].clone(),
        info["head_state_merkle_root"].clone(),
        info["last_irreversible_block"].clone(),
    )
}

fn height_of(info: &Value) -> u64 {
    info["head_topology"]["height"]
        .as_str()
        .and_then(|h| h.parse().ok())
        .unwrap_or(0)
}

/// A second node directory holding only a chain: the devnet's config (same broker), its
/// genesis, and `verify-blocks` for catch-up.
fn second_chain(net: &TestNet, dir: &Path) -> Node {
    let config = std::fs::read_to_string(net.dir.path().join("config.yml")).unwrap();
    let config = config.replace(
        "chain:\n  fork-algorithm: fifo",
        "chain:\n  fork-algorithm: fifo\n  verify-blocks: true",
    );
    assert!(config.contains("verify-blocks: true"), "{config}");
    std::fs::write(dir.join("config.yml"), config).unwrap();
    std::fs::create_dir_all(dir.join("chain")).unwrap();
    std::fs::copy(
        net.dir.path().join("chain/genesis_data.json"),
        dir.join("chain/genesis_data.json"),
    )
    .unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_koinos-chain"))
        .parent()
        .unwrap();
    Node::new(dir, bin_dir)
}

/// The log of the second chain, for failure messages.
fn log_of(node: &Node) -> String {
    std::fs::read_to_string(node.log_path("chain")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_chain_on_the_same_broker_stays_in_sync_through_block_accept() {
    let mut net = TestNet::start("two-chains", 200);
    let start = net.wait_height(6, Duration::from_secs(90)).await;

    let dir = tempfile::tempdir().unwrap();
    let mut second = second_chain(&net, dir.path());
    second.start("chain").unwrap();

    // Caught up (re-executing the blocks so far), then both chains take proposals.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log_of(&second).contains("caught up") {
        assert!(second.is_running("chain"), "{}", log_of(&second));
        assert!(Instant::now() < deadline, "{}", log_of(&second));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let caught_up = log_of(&second);
    assert!(
        !caught_up.contains("indexed=0"),
        "the second chain re-executed the first blocks: {caught_up}"
    );
    let height = net.wait_height(start + 12, Duration::from_secs(90)).await;

    // Freeze production; every answer, from either chain, is the same head.
    net.node.stop("block_producer");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let frozen = net.head().await;
    assert!(height_of(&frozen) >= height);
    for _ in 0..6 {
        assert_eq!(topology(&net.head().await), topology(&frozen));
    }

    // The first chain stops: the second alone answers, with the same head.
    net.node.stop("chain");
    let alone = net.head().await;
    assert_eq!(
        topology(&alone),
        topology(&frozen),
        "second chain's log:\n{}",
        log_of(&second)
    );

    // Production continues on the second chain.
    net.node.start("block_producer").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let head = net.head().await;
        if height_of(&head) >= height_of(&frozen) + 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no production on the second chain; its log:\n{}",
            log_of(&second)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let new_height = height_of(&net.head().await);
    let blocks = net.blocks(new_height).await;
    assert_eq!(blocks.len() as u64, new_height);
    net.assert_linked(&blocks);
    assert!(second.is_running("chain"), "{}", log_of(&second));
}
