//! Our p2p nodes against each other in one process, over real TCP/Noise/yamux/gossipsub, each
//! on a stand-in of its chain and block_store: sync from genesis, gossip both ways, and peers
//! that lie (another chain, garbage peer RPC bytes, undecodable gossip) scored and
//! disconnected.
//! Needs no broker.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::AsyncWriteExt;
use koinos_protocol::pb::koinos::block_store::BlockItem;
use koinos_protocol::{Block, BlockHeader, Transaction};
use koinos_services::p2p::config::{Checkpoint, P2pOptions, identity};
use koinos_services::p2p::local::{Head, Local, SubmitError};
use koinos_services::p2p::node::{Command, Shared};
use koinos_services::p2p::service::start;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use prost::Message;
use tokio_util::sync::CancellationToken;

fn block_id(height: u64) -> Vec<u8> {
    let mut id = vec![0x12, 0x20];
    id.extend([0u8; 24]);
    id.extend(height.to_be_bytes());
    id
}

fn block(height: u64) -> Block {
    Block {
        id: block_id(height),
        header: Some(BlockHeader {
            previous: block_id(height - 1),
            height,
            timestamp: now_ms(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A linear chain in memory: accepts a block whose height is head + 1, knows blocks by height.
struct MockLocal {
    chain_id: Vec<u8>,
    blocks: Mutex<BTreeMap<u64, Block>>,
    transactions: Mutex<Vec<Transaction>>,
    refuse_blocks: bool,
}

impl MockLocal {
    fn new(chain_id: u8, height: u64) -> Arc<Self> {
        Arc::new(Self {
            chain_id: vec![0x12, 0x20, chain_id],
            blocks: Mutex::new((1..=height).map(|h| (h, block(h))).collect()),
            transactions: Mutex::default(),
            refuse_blocks: false,
        })
    }

    fn height(&self) -> u64 {
        self.blocks
            .lock()
            .unwrap()
            .last_key_value()
            .map_or(0, |(h, _)| *h)
    }
}

impl Local for MockLocal {
    async fn chain_id(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.chain_id.clone())
    }

    async fn head(&self) -> anyhow::Result<Head> {
        let height = self.height();
        Ok(Head {
            id: block_id(height),
            height,
            time_ms: now_ms(),
        })
    }

    async fn lib(&self) -> anyhow::Result<(Vec<u8>, u64)> {
        let height = self.height();
        Ok((block_id(height), height))
    }

    async fn blocks_by_height(
        &self,
        _head: Vec<u8>,
        start: u64,
        count: u32,
    ) -> anyhow::Result<Vec<BlockItem>> {
        let blocks = self.blocks.lock().unwrap();
        Ok(blocks
            .range(start..start + u64::from(count))
            .map(|(h, b)| BlockItem {
                block_id: b.id.clone(),
                block_height: *h,
                block: Some(b.clone()),
                receipt: None,
            })
            .collect())
    }

    async fn has_block(&self, id: Vec<u8>) -> anyhow::Result<bool> {
        Ok(self.blocks.lock().unwrap().values().any(|b| b.id == id))
    }

    async fn submit_block(&self, block: Block) -> Result<(), SubmitError> {
        if self.refuse_blocks {
            return Err(SubmitError::Refused("bad block".into()));
        }
        let mut blocks = self.blocks.lock().unwrap();
        let height = block.header.as_ref().map_or(0, |h| h.height);
        let head = blocks.last_key_value().map_or(0, |(h, _)| *h);
        if height <= head {
            return Ok(()); // known
        }
        if height != head + 1 {
            return Err(SubmitError::Unlinkable("unknown previous block".into()));
        }
        blocks.insert(height, block);
        Ok(())
    }

    async fn submit_transaction(&self, transaction: Transaction) -> Result<(), SubmitError> {
        self.transactions.lock().unwrap().push(transaction);
        Ok(())
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct TestNode {
    local: Arc<MockLocal>,
    shared: Arc<Shared>,
    addr: Multiaddr,
    id: PeerId,
    _stop: tokio_util::sync::DropGuard,
}

async fn node(seed: &str, local: Arc<MockLocal>, peers: &[&TestNode]) -> TestNode {
    node_with(seed, local, peers, vec![]).await
}

async fn node_with(
    seed: &str,
    local: Arc<MockLocal>,
    peers: &[&TestNode],
    checkpoints: Vec<Checkpoint>,
) -> TestNode {
    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", free_port())
        .parse()
        .unwrap();
    let id = identity(seed).public().to_peer_id();
    let options = P2pOptions {
        listen: listen.clone(),
        seed: seed.into(),
        peers: peers
            .iter()
            .map(|p| p.addr.clone().with(libp2p::multiaddr::Protocol::P2p(p.id)))
            .collect(),
        checkpoints,
        disable_gossip: false,
        force_gossip: false,
        external_addresses: vec![],
    };
    let stop = CancellationToken::new();
    let shared = start(local.clone(), options, None, stop.clone())
        .await
        .expect("node starts");
    assert_eq!(shared.local_peer_id, id);
    TestNode {
        local,
        shared,
        addr: listen,
        id,
        _stop: stop.drop_guard(),
    }
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_syncs_gossips_and_drops_liars() {
    // the nodes' logs, shown when the test fails (RUST_LOG overrides the level)
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "koinos_services=info".into()),
        )
        .with_test_writer()
        .try_init();
    let a = node("a", MockLocal::new(1, 1203), &[]).await;
    let b = node("b", MockLocal::new(1, 0), &[&a]).await;

    // b syncs a's 1203 blocks from genesis in batches of 500 over the peer RPC
    wait_until("b synced", Duration::from_secs(60), || {
        b.local.height() == 1203
    })
    .await;
    assert_eq!(
        *b.local.blocks.lock().unwrap(),
        *a.local.blocks.lock().unwrap()
    );

    // both heads are fresh and each has a peer: gossip turns on
    wait_until("gossip on", Duration::from_secs(10), || {
        a.shared.gossip_enabled() && b.shared.gossip_enabled()
    })
    .await;
    // let the gossipsub mesh form (subscriptions travel after the switch)
    tokio::time::sleep(Duration::from_secs(2)).await;

    // a block published by a reaches b by gossip
    a.local.blocks.lock().unwrap().insert(1204, block(1204));
    let data = block(1204).encode_to_vec();
    a.shared
        .commands
        .send(Command::Publish {
            topic: "koinos.blocks",
            data,
        })
        .await
        .unwrap();
    wait_until("block gossiped", Duration::from_secs(10), || {
        b.local.height() == 1204
    })
    .await;

    // a block gossiped before its parent waits for it: 1206 then 1205
    for height in [1205, 1206] {
        a.local.blocks.lock().unwrap().insert(height, block(height));
    }
    for height in [1206, 1205] {
        let data = a.local.blocks.lock().unwrap()[&height].encode_to_vec();
        a.shared
            .commands
            .send(Command::Publish {
                topic: "koinos.blocks",
                data,
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_until(
        "orphan applied after its parent",
        Duration::from_secs(5),
        || b.local.height() == 1206,
    )
    .await;

    // a transaction published by b reaches a's chain (submit_transaction)
    let tx = Transaction {
        id: vec![0x12, 0x20, 9],
        ..Default::default()
    };
    b.shared
        .commands
        .send(Command::Publish {
            topic: "koinos.transactions",
            data: tx.encode_to_vec(),
        })
        .await
        .unwrap();
    wait_until("transaction gossiped", Duration::from_secs(10), || {
        a.local.transactions.lock().unwrap().contains(&tx)
    })
    .await;

    // a peer of another chain is scored at once and disconnected: both run the handshake, and
    // whichever finishes first bans the other and drops the connection (then neither redials)
    let liar = node("liar", MockLocal::new(2, 10), &[&a]).await;
    wait_until("liar banned", Duration::from_secs(30), || {
        (a.shared.is_banned(&liar.id) || liar.shared.is_banned(&a.id))
            && !a.shared.is_connected(&liar.id)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        !a.shared.is_connected(&liar.id),
        "the banned side is not redialed"
    );
    assert_eq!(a.local.height(), 1206, "nothing from the liar was applied");

    // garbage on the peer RPC: each malformed call costs 5000; past 100000 the peer is dropped
    let garbler = node("garbler", MockLocal::new(1, 1204), &[&a]).await;
    wait_until("garbler connected", Duration::from_secs(10), || {
        a.shared.is_connected(&garbler.id)
    })
    .await;
    let mut control = garbler.shared.control();
    for _ in 0..25 {
        let Ok(mut stream) = control
            .open_stream(a.id, StreamProtocol::new("/koinos/peerrpc/1.0.0"))
            .await
        else {
            break; // dropped already
        };
        // 0xc1 is never valid MessagePack
        let _ = stream.write_all(&[0xc1, 0xc1, 0xc1]).await;
        let _ = stream.flush().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_until("garbler banned", Duration::from_secs(10), || {
        a.shared.is_banned(&garbler.id) && !a.shared.is_connected(&garbler.id)
    })
    .await;

    // garbage gossip: each undecodable block costs its forwarder 5000
    let gossiper = node("gossiper", MockLocal::new(1, 1204), &[&a]).await;
    wait_until("gossiper connected", Duration::from_secs(10), || {
        a.shared.is_connected(&gossiper.id) && gossiper.shared.gossip_enabled()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0u32..30 {
        // field 2 (the header) as a varint: not a block
        let mut data = vec![0x10, 0x01, 0x0a, 0x04];
        data.extend(i.to_be_bytes());
        let _ = gossiper
            .shared
            .commands
            .send(Command::Publish {
                topic: "koinos.blocks",
                data,
            })
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_until("gossiper banned", Duration::from_secs(10), || {
        a.shared.is_banned(&gossiper.id) && !a.shared.is_connected(&gossiper.id)
    })
    .await;
    assert_eq!(a.local.height(), 1206);

    // checkpoints: a node requiring block 5 as a has it handshakes; one requiring another
    // block 5 scores a at once and drops it
    let agreeing = node_with(
        "agreeing",
        MockLocal::new(1, 0),
        &[&a],
        vec![Checkpoint {
            height: 5,
            id: block_id(5),
        }],
    )
    .await;
    let disagreeing = node_with(
        "disagreeing",
        MockLocal::new(1, 0),
        &[&a],
        vec![Checkpoint {
            height: 5,
            id: block_id(6),
        }],
    )
    .await;
    wait_until(
        "checkpoint mismatch banned",
        Duration::from_secs(30),
        || disagreeing.shared.is_banned(&a.id) && !disagreeing.shared.is_connected(&a.id),
    )
    .await;
    assert_eq!(
        disagreeing.local.height(),
        0,
        "nothing synced past a failed handshake"
    );
    wait_until("checkpoint holder synced", Duration::from_secs(60), || {
        agreeing.local.height() >= 1206
    })
    .await;
    assert!(!agreeing.shared.is_banned(&a.id));

    // the honest peer is still there and a still serves
    assert!(a.shared.is_connected(&b.id));
    assert!(!a.shared.is_banned(&b.id));
}

/// `external-address` reaches peers: identify tells them the announced address beside the ones
/// the node listens on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_tells_peers_the_external_address() {
    use futures::StreamExt;
    use koinos_services::p2p::node::{BehaviourEvent, build_swarm};
    use libp2p::identify;
    use libp2p::swarm::SwarmEvent;

    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", free_port())
        .parse()
        .unwrap();
    let external: Multiaddr = "/ip4/203.0.113.7/tcp/30888".parse().unwrap();
    let options = P2pOptions {
        listen: listen.clone(),
        seed: "announcer".into(),
        peers: vec![],
        checkpoints: vec![],
        disable_gossip: false,
        force_gossip: false,
        external_addresses: vec![external.clone()],
    };
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let announcer = start(MockLocal::new(1, 0), options, None, stop)
        .await
        .expect("node starts")
        .local_peer_id;

    let mut peer = build_swarm(
        identity("listener"),
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    )
    .expect("swarm");
    peer.dial(listen).expect("dial");
    let told = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) = peer.select_next_some().await
                && peer_id == announcer
            {
                return info.listen_addrs;
            }
        }
    })
    .await
    .expect("identify from the node within 20 s");
    assert!(told.contains(&external), "{told:?}");
}
