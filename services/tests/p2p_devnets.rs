//! Two devnets of our binaries on one machine, each on its own RabbitMQ vhost, joined only by
//! koinos-p2p: the second (same genesis, no block producer) syncs the first's chain from
//! genesis over the peer RPC, then follows its head by gossip, and transactions submitted to
//! either node cross to the other. Prints the sync rate. Needs RabbitMQ (see node_support).

mod node_support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::builder::{transaction, transfer_operation};
use koinos_services::devnet::http_client;
use koinos_services::devnet::launcher::Node;
use koinos_services::p2p::config::identity;
use node_support::{TestNet, Vhost};
use serde_json::{Value, json};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The follower: the leader's genesis, our services but the producer, p2p dialing the leader.
struct Follower {
    node: Node,
    rpc: SocketAddr,
    _vhost: Vhost,
    _dir: tempfile::TempDir,
}

impl Follower {
    fn start(leader_dir: &Path, leader_p2p: &str) -> Self {
        let vhost = Vhost::create("p2p-follower");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("chain")).unwrap();
        std::fs::copy(
            leader_dir.join("chain/genesis_data.json"),
            dir.path().join("chain/genesis_data.json"),
        )
        .unwrap();
        let port = free_port();
        let config = json!({
            "global": {"amqp": vhost.amqp_url(), "log-level": "info",
                       "metrics-address": "127.0.0.1:0"},
            "chain": {"fork-algorithm": "fifo"},
            "jsonrpc": {"listen": format!("127.0.0.1:{port}")},
            "p2p": {"listen": format!("/ip4/127.0.0.1/tcp/{}", free_port()),
                    "seed": "follower", "peer": [leader_p2p]},
        });
        std::fs::write(
            dir.path().join("config.yml"),
            serde_yaml::to_string(&config).unwrap(),
        )
        .unwrap();
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_koinos-p2p"))
            .parent()
            .unwrap();
        let mut node = Node::new(dir.path(), bin_dir);
        for service in [
            "block_store",
            "mempool",
            "transaction_store",
            "contract_meta_store",
            "chain",
            "jsonrpc",
            "p2p",
        ] {
            node.start(service).unwrap();
        }
        Self {
            node,
            rpc: SocketAddr::from(([127, 0, 0, 1], port)),
            _vhost: vhost,
            _dir: dir,
        }
    }

    async fn height(&self) -> Option<u64> {
        http_client::head_height(self.rpc).await.ok()
    }
}

/// The last lines of a node's p2p log (the launcher's tail covers the other services).
fn p2p_log(node: &Node) -> String {
    let text = std::fs::read_to_string(node.log_path("p2p")).unwrap_or_default();
    let _ = std::fs::write(
        std::env::temp_dir().join(format!("p2p-devnets-{}.log", std::process::id())),
        &text,
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

async fn has_transaction(rpc: SocketAddr, id: &Value) -> bool {
    http_client::call(
        rpc,
        "transaction_store.get_transactions_by_id",
        json!({"transaction_ids": [id]}),
    )
    .await
    .ok()
    .and_then(|r| r["transactions"].as_array().map(|a| !a.is_empty()))
    .unwrap_or(false)
}

async fn gossip_enabled(rpc: SocketAddr) -> bool {
    http_client::call(rpc, "p2p.get_gossip_status", json!({}))
        .await
        .ok()
        .and_then(|r| r["enabled"].as_bool())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_syncs_from_genesis_then_follows_by_gossip() {
    let mut leader = TestNet::start("p2p-leader", 200);
    let leader_port = free_port();
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(leader.dir.path().join("config.yml"))
        .unwrap();
    writeln!(
        config,
        "p2p:\n  listen: /ip4/127.0.0.1/tcp/{leader_port}\n  seed: leader"
    )
    .unwrap();
    leader.node.start("p2p").unwrap();
    let leader_p2p = format!(
        "/ip4/127.0.0.1/tcp/{leader_port}/p2p/{}",
        identity("leader").public().to_peer_id()
    );

    // the leader builds a chain alone first
    let target = leader.wait_height(120, Duration::from_secs(120)).await;

    let mut follower = Follower::start(leader.dir.path(), &leader_p2p);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(180);
    // (time, height) when the first synced block showed up
    let mut first: Option<(Instant, u64)> = None;
    loop {
        let height = follower.height().await;
        if first.is_none() && height.is_some_and(|h| h > 0) {
            first = Some((Instant::now(), height.unwrap_or(0)));
        }
        if height.is_some_and(|h| h >= target) {
            break;
        }
        let exited = {
            let mut node = follower.node.exited();
            node.extend(leader.node.exited());
            node
        };
        if Instant::now() > deadline || !exited.is_empty() {
            panic!(
                "follower did not sync to {target} (exited: {exited:?})\nfollower:\n{}\n{}\nleader:\n{}",
                follower.node.log_tail(40),
                p2p_log(&follower.node),
                p2p_log(&leader.node)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    let (first_at, first_height) = first.unwrap_or((started, 0));
    let applying = first_at.elapsed().as_secs_f64().max(0.001);
    println!(
        "synced {target} blocks in {:.1} s from the follower's start ({:.1} blocks/s); \
         {:.1} blocks/s once blocks were arriving (each through chain.submit_block); \
         the leader's chain applies its own blocks at the production rate, 5 blocks/s",
        elapsed.as_secs_f64(),
        target as f64 / elapsed.as_secs_f64(),
        (target - first_height) as f64 / applying
    );

    // the follower's blocks are the leader's
    let follower_head = http_client::call(follower.rpc, "chain.get_head_info", json!({}))
        .await
        .unwrap();
    let follower_blocks = http_client::call(
        follower.rpc,
        "block_store.get_blocks_by_height",
        json!({"head_block_id": follower_head["head_topology"]["id"],
               "ancestor_start_height": 1, "num_blocks": target,
               "return_block": false, "return_receipt": false}),
    )
    .await
    .unwrap();
    let leader_blocks = leader.blocks(target).await;
    let ids =
        |items: &[Value]| -> Vec<Value> { items.iter().map(|i| i["block_id"].clone()).collect() };
    assert_eq!(
        ids(follower_blocks["block_items"].as_array().unwrap()),
        ids(&leader_blocks),
        "the follower holds the leader's chain"
    );

    // both switch gossip on (a peer each, fresh heads)
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(gossip_enabled(leader.rpc).await && gossip_enabled(follower.rpc).await) {
        assert!(Instant::now() < deadline, "gossip never enabled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // following by gossip: once caught up, the follower stays within a few blocks of the
    // leader (a sync round only comes every 10 s, 50 blocks at this rate)
    let leader_height = || async {
        leader.head().await["head_topology"]["height"]
            .as_str()
            .and_then(|h| h.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (l, f) = (leader_height().await, follower.height().await.unwrap_or(0));
        if l.saturating_sub(f) <= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "follower at {f}, leader at {l}, exited {:?}\n{}\n{}",
            follower.node.exited(),
            follower.node.log_tail(30),
            p2p_log(&follower.node)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for _ in 0..20 {
        let (l, f) = (leader_height().await, follower.height().await.unwrap_or(0));
        assert!(
            l.saturating_sub(f) <= 5,
            "follower fell behind: at {f}, leader at {l}\n{}",
            p2p_log(&follower.node)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // a transaction submitted to the follower reaches the leader (only p2p joins them), which
    // includes it; and one submitted to the leader reaches the follower
    let funded = ProducerKey::from_wif(&leader.info.funded_account_wif).unwrap();
    let receiver = ProducerKey::generate();
    let token = bs58::decode(&leader.info.token_contract_id)
        .into_vec()
        .unwrap();
    let chain_id = URL_SAFE.decode(&leader.info.chain_id).unwrap();
    for (nonce, submit_to, check_on) in [
        (1u64, follower.rpc, leader.rpc),
        (2, leader.rpc, follower.rpc),
    ] {
        let transfer = transfer_operation(&token, funded.address(), receiver.address(), 10);
        let tx = transaction(
            &chain_id,
            funded.private_key(),
            nonce,
            100_000_000,
            vec![transfer],
        );
        let tx_json = koinos_protocol::json::to_value(&tx).unwrap();
        http_client::call(
            submit_to,
            "chain.submit_transaction",
            json!({"transaction": tx_json, "broadcast": true}),
        )
        .await
        .unwrap_or_else(|e| panic!("submit_transaction: {e}\n{}", follower.node.log_tail(20)));
        let id = tx_json["id"].clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !has_transaction(check_on, &id).await {
            assert!(
                Instant::now() < deadline,
                "transaction {nonce} did not cross\nfollower:\n{}\n{}\nleader:\n{}",
                follower.node.log_tail(30),
                p2p_log(&follower.node),
                p2p_log(&leader.node)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // where the time went, from the follower's "sync batch applied" lines
    let (mut blocks, mut fetch_ms, mut apply_ms) = (0u64, 0u64, 0u64);
    let log = std::fs::read_to_string(follower.node.log_path("p2p")).unwrap_or_default();
    for line in log.lines().filter(|l| l.contains("sync batch applied")) {
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        blocks += field("count=");
        fetch_ms += field("fetch_ms=");
        apply_ms += field("apply_ms=");
    }
    println!(
        "sync batches: {blocks} blocks fetched in {fetch_ms} ms ({:.0} blocks/s over the peer \
         RPC) and applied by the chain in {apply_ms} ms ({:.1} blocks/s, one \
         chain.submit_block at a time)",
        blocks as f64 * 1000.0 / fetch_ms.max(1) as f64,
        blocks as f64 * 1000.0 / apply_ms.max(1) as f64
    );
    assert!(
        blocks >= target,
        "the batches cover the synced blocks:\n{log}"
    );
}
