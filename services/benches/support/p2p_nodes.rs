//! Nodes of our binaries joined only by koinos-p2p, for `services/tests/p2p_restart.rs` and
//! `services/benches/p2p.rs`: each node is block_store, mempool and chain (p2p started apart)
//! on a RabbitMQ vhost of its own, driven over AMQP (no gateway); and chains of signed blocks
//! built in-process on a node's genesis, which a node's chain then applies through
//! `chain.submit_block` (no block producer: the blocks are known before any node sees them).
//!
//! The including crate declares `mod node_support` (`services/tests/node_support`) at its root.

#![allow(dead_code)] // the test and the bench use different parts

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::Block;
use koinos_protocol::pb::koinos::rpc::block_store::{
    BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightRequest, block_store_request,
    block_store_response,
};
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetHeadInfoRequest, SubmitBlockRequest, chain_request,
    chain_response,
};
use koinos_protocol::pb::koinos::rpc::p2p::{
    GetGossipStatusRequest, P2pRequest, P2pResponse, p2p_request, p2p_response,
};
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::genesis::load_genesis;
use koinos_services::chain::{Chain, ForkAlgorithm, builder};
use koinos_services::devnet::launcher::Node;
use koinos_services::devnet::{self, DevnetInfo, DevnetSpec};
use koinos_services::mq::topology::service;
use koinos_services::mq::typed::TypedClient;
use koinos_services::mq::{Broadcaster, CallOptions, Connection, RpcClient, Subscriber};
use koinos_services::p2p::config::identity;
use serde_json::json;

use crate::node_support::Vhost;

/// The services of a node besides p2p, in start order (chain pings block_store and mempool).
pub const BASE_SERVICES: [&str; 3] = ["block_store", "mempool", "chain"];
const ALL_SERVICES: [&str; 4] = ["block_store", "mempool", "chain", "p2p"];

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// One node's head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub id: Vec<u8>,
    pub height: u64,
    pub time_ms: u64,
}

/// A node (fields drop in order: processes stopped, then the broker connection, the vhost and
/// the files).
pub struct P2pNode {
    pub node: Node,
    pub name: String,
    /// What other nodes dial: `/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`.
    pub p2p_addr: String,
    conn: Connection,
    client: RpcClient,
    pub vhost: Vhost,
    pub dir: tempfile::TempDir,
}

impl P2pNode {
    /// A new devnet (genesis, producer key, funded account) of its own.
    pub async fn genesis(name: &str, bin_dir: &Path) -> Self {
        Self::create(name, bin_dir, None, &[]).await
    }

    /// A node on `genesis`'s chain (the same genesis data) whose p2p dials `peers`.
    pub async fn joining(name: &str, bin_dir: &Path, genesis: &P2pNode, peers: &[&str]) -> Self {
        Self::create(name, bin_dir, Some(genesis.dir.path()), peers).await
    }

    async fn create(name: &str, bin_dir: &Path, genesis: Option<&Path>, peers: &[&str]) -> Self {
        let vhost = Vhost::create(name);
        let dir = tempfile::tempdir().expect("temp dir");
        match genesis {
            None => {
                let spec = DevnetSpec {
                    amqp: vhost.amqp_url(),
                    // Sync and gossip are measured, not the token: the native one keeps the
                    // figures comparable across runs (benches/chain.rs compares the tokens).
                    token: devnet::DevnetToken::Native,
                    ..DevnetSpec::default()
                };
                devnet::init(dir.path(), &spec).expect("devnet init");
            }
            Some(from) => {
                std::fs::create_dir_all(dir.path().join("chain")).expect("chain dir");
                std::fs::copy(
                    from.join("chain/genesis_data.json"),
                    dir.path().join("chain/genesis_data.json"),
                )
                .expect("copy the genesis data");
            }
        }
        let port = free_port();
        let seed = format!("{name}-{}", std::process::id());
        let config = json!({
            "global": {"amqp": vhost.amqp_url(), "log-level": "info",
                       "metrics-address": "127.0.0.1:0"},
            "chain": {"fork-algorithm": "fifo"},
            "p2p": {"listen": format!("/ip4/127.0.0.1/tcp/{port}"), "seed": seed,
                    "peer": peers},
        });
        std::fs::write(
            dir.path().join("config.yml"),
            serde_yaml::to_string(&config).expect("config"),
        )
        .expect("write config.yml");
        let p2p_addr = format!(
            "/ip4/127.0.0.1/tcp/{port}/p2p/{}",
            identity(&seed).public().to_peer_id()
        );
        let conn = Connection::connect_supervised(&vhost.amqp_url()).expect("amqp url");
        conn.wait_connected(Duration::from_secs(15))
            .await
            .expect("connected to RabbitMQ");
        let client = RpcClient::new(&conn);
        Self {
            node: Node::new(dir.path(), bin_dir),
            name: name.to_owned(),
            p2p_addr,
            conn,
            client,
            vhost,
            dir,
        }
    }

    /// `devnet.json` (only on a node made by [`P2pNode::genesis`]).
    pub fn info(&self) -> DevnetInfo {
        DevnetInfo::read(self.dir.path()).expect("devnet.json")
    }

    /// Starts block_store, mempool and chain, and waits until chain answers.
    pub async fn start_base(&mut self) {
        for name in BASE_SERVICES {
            self.node.start(name).expect("start a service");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.head().await.is_err() {
            let exited = self.node.exited();
            assert!(
                Instant::now() < deadline && exited.is_empty(),
                "{}: chain did not answer (exited: {exited:?})\n{}",
                self.name,
                self.logs(30)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn start_p2p(&mut self) {
        self.node.start("p2p").expect("start p2p");
    }

    /// SIGKILL of every process of the node.
    pub fn kill_all(&mut self) {
        for name in ALL_SERVICES {
            self.node.kill(name);
        }
    }

    fn chain(&self) -> TypedClient<ChainRequest, ChainResponse> {
        TypedClient::new(
            &self.client,
            service::CHAIN,
            CallOptions::timeout(Duration::from_secs(10)),
        )
    }

    pub async fn head(&self) -> anyhow::Result<Head> {
        let request = ChainRequest {
            request: Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {})),
        };
        match self.chain().call(&request).await?.response {
            Some(chain_response::Response::GetHeadInfo(info)) => {
                let topology = info.head_topology.unwrap_or_default();
                Ok(Head {
                    id: topology.id,
                    height: topology.height,
                    time_ms: info.head_block_time,
                })
            }
            other => anyhow::bail!("get_head_info: {other:?}"),
        }
    }

    /// `chain.submit_block`, one call (what p2p does per block).
    pub async fn submit_block(&self, block: &Block) -> anyhow::Result<()> {
        let request = ChainRequest {
            request: Some(chain_request::Request::SubmitBlock(SubmitBlockRequest {
                block: Some(block.clone()),
            })),
        };
        self.chain().call(&request).await?;
        Ok(())
    }

    /// The ids of blocks `1..=count` on the head's chain, from block_store.
    pub async fn block_ids(&self, count: u64) -> anyhow::Result<Vec<Vec<u8>>> {
        let head = self.head().await?;
        let store: TypedClient<BlockStoreRequest, BlockStoreResponse> = TypedClient::new(
            &self.client,
            service::BLOCK_STORE,
            CallOptions::timeout(Duration::from_secs(10)),
        );
        let mut ids = Vec::new();
        while (ids.len() as u64) < count {
            let start = ids.len() as u64 + 1;
            let request = BlockStoreRequest {
                request: Some(block_store_request::Request::GetBlocksByHeight(
                    GetBlocksByHeightRequest {
                        head_block_id: head.id.clone(),
                        ancestor_start_height: start,
                        num_blocks: (count - start + 1).min(500) as u32,
                        return_block: false,
                        return_receipt: false,
                    },
                )),
            };
            let Some(block_store_response::Response::GetBlocksByHeight(page)) =
                store.call(&request).await?.response
            else {
                anyhow::bail!("get_blocks_by_height: unexpected response");
            };
            anyhow::ensure!(
                !page.block_items.is_empty(),
                "no blocks from height {start} (head {})",
                head.height
            );
            ids.extend(page.block_items.into_iter().map(|item| item.block_id));
        }
        Ok(ids)
    }

    /// `p2p.get_gossip_status` (false while p2p does not answer).
    pub async fn gossip_enabled(&self) -> bool {
        let p2p: TypedClient<P2pRequest, P2pResponse> = TypedClient::new(
            &self.client,
            service::P2P,
            CallOptions::timeout(Duration::from_secs(2)),
        );
        let request = P2pRequest {
            request: Some(p2p_request::Request::GetGossipStatus(
                GetGossipStatusRequest {},
            )),
        };
        matches!(
            p2p.call(&request).await.map(|r| r.response),
            Ok(Some(p2p_response::Response::GetGossipStatus(s))) if s.enabled
        )
    }

    /// A subscriber to `topics` on this node's `koinos.event`, bound before it returns.
    pub async fn subscribe(&self, topics: &[&str]) -> Subscriber {
        let subscriber = Subscriber::subscribe(&self.conn, topics);
        subscriber
            .wait_bound(Duration::from_secs(15))
            .await
            .expect("subscriber bound");
        subscriber
    }

    /// A broadcaster on this node's `koinos.event` (publishes wait for the broker's confirm).
    pub fn broadcaster(&self) -> Broadcaster {
        Broadcaster::new(&self.conn)
    }

    /// The whole p2p log.
    pub fn p2p_log(&self) -> String {
        std::fs::read_to_string(self.node.log_path("p2p")).unwrap_or_default()
    }

    /// The last `lines` lines of each service's log, p2p's included (for failure reports).
    pub fn logs(&self, lines: usize) -> String {
        format!("===== {} =====\n{}", self.name, self.node.log_tail(lines))
    }
}

/// One "sync batch applied" line of a p2p log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncBatch {
    pub from: u64,
    pub count: u64,
    pub fetch_ms: u64,
    pub apply_ms: u64,
}

/// The sync batches a p2p log (or a part of one) records, in order.
pub fn sync_batches(log: &str) -> Vec<SyncBatch> {
    log.lines()
        .filter(|l| l.contains("sync batch applied"))
        .map(|line| {
            let field = |name: &str| -> u64 {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(name))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            SyncBatch {
                from: field("from="),
                count: field("count="),
                fetch_ms: field("fetch_ms="),
                apply_ms: field("apply_ms="),
            }
        })
        .collect()
}

/// Builds a devnet's chain in-process (its own state in a temporary directory, fsync off):
/// blocks signed by the genesis key, each carrying token transfers from the funded account.
pub struct BlockBuilder {
    chain: Chain,
    producer: ProducerKey,
    funded: ProducerKey,
    receiver: ProducerKey,
    token: Vec<u8>,
    chain_id: Vec<u8>,
    nonce: u64,
    last_timestamp: u64,
    _dir: tempfile::TempDir,
}

impl BlockBuilder {
    /// On the genesis of `devnet` (a node made by [`P2pNode::genesis`]).
    pub fn new(devnet: &P2pNode) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = devnet.dir.path();
        let genesis = load_genesis(&base.join("chain/genesis_data.json")).expect("genesis");
        let mut chain = Chain::open(dir.path(), &genesis, ForkAlgorithm::Fifo).expect("chain");
        chain.set_durable(false).expect("fsync off");
        let info = devnet.info();
        Self {
            chain,
            producer: ProducerKey::load_or_generate(&base.join("block_producer/private.key"))
                .expect("producer key"),
            funded: ProducerKey::from_wif(&info.funded_account_wif).expect("funded key"),
            receiver: ProducerKey::generate(),
            token: bs58::decode(&info.token_contract_id)
                .into_vec()
                .expect("token id"),
            chain_id: URL_SAFE.decode(&info.chain_id).expect("chain id"),
            nonce: 0,
            last_timestamp: 0,
            _dir: dir,
        }
    }

    /// The next block, timestamped `at_ms` (1 ms after the previous one if that is later),
    /// with `transfers` transfers; applied here so the one after it can follow.
    pub fn next(&mut self, transfers: usize, at_ms: u64) -> Block {
        let transactions = (0..transfers)
            .map(|_| {
                self.nonce += 1;
                let op = builder::transfer_operation(
                    &self.token,
                    self.funded.address(),
                    self.receiver.address(),
                    1,
                );
                builder::transaction(
                    &self.chain_id,
                    self.funded.private_key(),
                    self.nonce,
                    10_000_000,
                    vec![op],
                )
            })
            .collect();
        let timestamp = at_ms.max(self.last_timestamp + 1);
        self.last_timestamp = timestamp;
        let block = builder::block(
            self.chain.head(),
            timestamp,
            transactions,
            self.producer.private_key(),
        );
        let committed = self
            .chain
            .submit_block(&block, now_ms().max(timestamp))
            .expect("the built block applies")
            .expect("a new block");
        assert!(
            committed
                .receipt
                .transaction_receipts
                .iter()
                .all(|r| !r.reverted),
            "a transfer reverted"
        );
        block
    }

    /// `count` blocks with timestamps 1 ms apart ending now.
    pub fn chain_of(&mut self, count: u64, transfers: usize) -> Vec<Block> {
        let start = now_ms().saturating_sub(count);
        (0..count)
            .map(|i| self.next(transfers, start + i))
            .collect()
    }
}
