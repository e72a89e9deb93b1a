//! The operator's `ClusterBroker` against our real services on a private vhost of the local
//! RabbitMQ: the chain's head over AMQP (`chain.get_head_info`) from genesis to produced
//! blocks, in the same form JSON-RPC shows it. Here because it needs both the operator and the
//! services (the operator does not depend on the services); no control plane. How the session
//! classifies failures is tested in the operator (`broker::session::with_rabbitmq`).
//!
//! Needs RabbitMQ on 127.0.0.1:5672 with `rabbitmqctl` (scripts/ensure-rabbitmq.sh); builds the
//! service binaries with cargo (fresh ones are not rebuilt).

mod broker_support;

use std::net::SocketAddr;
use std::time::Duration;

use broker_support::{Vhost, free_port, service_binaries};
use koinos_operator::broker::session::ClusterBroker;
use koinos_operator::crd::status::ChainStatus;
use koinos_services::devnet::launcher::Node;
use koinos_services::devnet::{self, DevnetSpec, http_client};
use koinos_services::mq::topology::queue;
use tokio::time::Instant;

const BINARIES: [&str; 5] = [
    "koinos-block-store",
    "koinos-mempool",
    "koinos-chain",
    "koinos-block-producer",
    "koinos-jsonrpc",
];

/// Polls `head_info` until `accept` holds (the chain needs a moment to start serving).
async fn wait_head(
    broker: &ClusterBroker,
    node: &mut Node,
    what: &str,
    accept: impl Fn(&ChainStatus) -> bool,
) -> ChainStatus {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = None;
    while Instant::now() < deadline {
        let exited = node.exited();
        assert!(
            exited.is_empty(),
            "services exited: {exited:?}\n{}",
            node.log_tail(30)
        );
        match broker.head_info().await {
            Ok(head) if accept(&head) => return head,
            other => last = Some(other),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what}: last head_info {last:?}\n{}", node.log_tail(30));
}

#[tokio::test]
async fn head_info_follows_the_chain_from_genesis_to_produced_blocks() {
    let bin_dir = service_binaries(&BINARIES);
    let vhost = Vhost::create("head");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let spec = DevnetSpec {
        amqp: vhost.url(),
        listen: format!("127.0.0.1:{port}"),
        block_interval_ms: 300,
        ..DevnetSpec::default()
    };
    devnet::init(dir.path(), &spec).expect("devnet init");
    let mut node = Node::new(dir.path(), bin_dir);
    for service in ["block_store", "mempool", "chain", "jsonrpc"] {
        node.start(service).expect("start a service");
    }
    let broker = ClusterBroker::connect(
        &vhost.url(),
        None,
        &vhost.endpoint(),
        Duration::from_secs(2),
    )
    .expect("valid URL");

    // No producer yet: the genesis head.
    let genesis = wait_head(&broker, &mut node, "the chain to serve", |_| true).await;
    assert_eq!(genesis.head_height, 0);
    assert_eq!(genesis.last_irreversible_block, 0);
    // The id as koilib shows it, read through JSON-RPC from the same chain.
    let rpc = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    let json = loop {
        match http_client::call(rpc, "chain.get_head_info", serde_json::json!({})).await {
            Ok(info) => break info,
            Err(error) if Instant::now() > deadline => panic!("JSON-RPC: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert_eq!(
        json["head_topology"]["id"].as_str(),
        Some(genesis.head_id.as_str())
    );
    assert!(genesis.head_id.starts_with("0x"), "{}", genesis.head_id);

    // With the producer: the head rises, each new head with a new id.
    node.start("block_producer").expect("start the producer");
    let produced = wait_head(&broker, &mut node, "blocks", |h| h.head_height >= 3).await;
    assert_ne!(produced.head_id, genesis.head_id);
    assert!(produced.last_irreversible_block <= produced.head_height);
    let later = wait_head(&broker, &mut node, "more blocks", |h| {
        h.head_height > produced.head_height
    })
    .await;
    assert_ne!(later.head_id, produced.head_id);

    // The chain consumes its queue: nothing waits there.
    assert_eq!(broker.queue_depth(queue::CHAIN).await.unwrap(), 0);
    broker.close().await;
}
