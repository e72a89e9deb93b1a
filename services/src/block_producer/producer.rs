//! The production loop: build a block on the head, seal it (merkle root, id, signature),
//! `propose_block`, drop failing transactions and re-propose. Federated: every interval, signed
//! by the key. Pob: when the key wins a time quantum ([`super::pob`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetHeadInfoRequest, GetHeadInfoResponse, GetResourceLimitsRequest,
    ProposeBlockRequest, chain_request, chain_response,
};
use koinos_protocol::pb::koinos::rpc::mempool::{
    GetPendingTransactionsRequest, MempoolRequest, MempoolResponse, mempool_request,
    mempool_response,
};
use koinos_protocol::pb::koinos::rpc::p2p::{
    GetGossipStatusRequest, P2pRequest, P2pResponse, p2p_request, p2p_response,
};
use koinos_protocol::{Block, BlockHeader, BlockReceipt};
use tokio_util::sync::CancellationToken;

use super::fill::{ResourceBounds, select_transactions};
use super::key::ProducerKey;
use super::pob::PobSettings;
use crate::chain::block::MAX_FUTURE_MS;
use crate::chain::builder::seal_block;
use crate::mq::topology::service;
use crate::mq::typed::TypedClient;
use crate::mq::{CallOptions, RpcClient};

/// How blocks are produced (`algorithm`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Algorithm {
    /// Every interval, signed by the key (the genesis key of a federated chain).
    #[default]
    Federated,
    /// Proof of burn: at the quanta the key wins ([`super::pob`]).
    Pob(PobSettings),
}

/// Production settings (the `block_producer` config section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerOptions {
    pub algorithm: Algorithm,
    /// Pause between the end of one production and the start of the next (official: 5 s).
    pub interval: Duration,
    pub bounds: ResourceBounds,
    /// Pending transactions fetched and considered per block (`max-inclusion-attempts`).
    pub max_inclusion_attempts: u64,
    /// Produce only while p2p reports gossip enabled (`gossip-production`).
    pub gossip_production: bool,
    /// Proposal transaction ids written into every header (`approve-proposals`).
    pub approved_proposals: Vec<Vec<u8>>,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Federated,
            interval: Duration::from_secs(5),
            bounds: ResourceBounds::default(),
            max_inclusion_attempts: 2000,
            gossip_production: true,
            approved_proposals: Vec::new(),
        }
    }
}

/// `propose_block` timeout, as the official producer uses.
const PROPOSE_TIMEOUT: Duration = Duration::from_secs(3);
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The next block's header on `head`. The timestamp is the latest of now, the head's time and
/// the last head time seen on `mempool.block_accepted`; it is also kept strictly above the
/// head's, since the chain rejects an equal timestamp (possible with sub-second intervals).
pub fn next_header(
    head: &GetHeadInfoResponse,
    now_ms: u64,
    last_seen_head_time: u64,
    signer: Vec<u8>,
    approved_proposals: &[Vec<u8>],
) -> BlockHeader {
    let topology = head.head_topology.clone().unwrap_or_default();
    BlockHeader {
        previous: topology.id,
        height: topology.height + 1,
        timestamp: now_ms
            .max(last_seen_head_time)
            .max(head.head_block_time + 1),
        previous_state_merkle_root: head.head_state_merkle_root.clone(),
        transaction_merkle_root: Vec::new(),
        signer,
        approved_proposals: approved_proposals.to_vec(),
    }
}

/// Removes the transactions at `failed` indices (as reported by `propose_block`).
pub fn remove_failed(block: &mut Block, failed: &[u32]) {
    let mut failed: Vec<usize> = failed.iter().map(|&i| i as usize).collect();
    failed.sort_unstable();
    failed.dedup();
    for index in failed.into_iter().rev() {
        if index < block.transactions.len() {
            block.transactions.remove(index);
        }
    }
}

/// Why a production round produced no block.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("{what}: {source}")]
    Call {
        what: &'static str,
        source: crate::mq::typed::CallError,
    },
    #[error("unexpected response to {0}")]
    UnexpectedResponse(&'static str),
    #[error("block proposal without receipt but no failed transactions were reported")]
    NoReceiptNoFailures,
    #[error("producer {0} has no VHP: the pob contract refuses its blocks")]
    NoVhp(String),
    #[error(
        "the pob contract registers key {registered} for producer {producer}, ours is {ours}: \
         register ours (register_public_key) or use the registered key"
    )]
    KeyNotRegistered {
        producer: String,
        registered: String,
        ours: String,
    },
}

/// A federated block producer.
pub struct Producer {
    pub(super) key: ProducerKey,
    options: ProducerOptions,
    pub(super) chain: TypedClient<ChainRequest, ChainResponse>,
    propose: TypedClient<ChainRequest, ChainResponse>,
    mempool: TypedClient<MempoolRequest, MempoolResponse>,
    p2p: TypedClient<P2pRequest, P2pResponse>,
    /// Timestamp of the last head block seen on `koinos.mempool.block_accepted`.
    pub(super) last_head_time: AtomicU64,
    /// How many head blocks have been seen: any new head, even a fork's block with an earlier
    /// time at the same height, ends a pob round (which `last_head_time` would not show).
    pub(super) heads_seen: AtomicU64,
    /// Set while gossip is enabled (always set without `gossip-production`).
    gossip_enabled: AtomicBool,
}

impl Producer {
    pub fn new(client: &RpcClient, key: ProducerKey, options: ProducerOptions) -> Arc<Self> {
        let query = CallOptions::timeout(QUERY_TIMEOUT);
        Arc::new(Self {
            gossip_enabled: AtomicBool::new(!options.gossip_production),
            key,
            options,
            chain: TypedClient::new(client, service::CHAIN, query),
            propose: TypedClient::new(
                client,
                service::CHAIN,
                CallOptions::timeout(PROPOSE_TIMEOUT),
            ),
            mempool: TypedClient::new(client, service::MEMPOOL, query),
            p2p: TypedClient::new(client, service::P2P, query),
            last_head_time: AtomicU64::new(0),
            heads_seen: AtomicU64::new(0),
        })
    }

    /// Records a block seen on `koinos.mempool.block_accepted`. A head time further ahead of now
    /// than any chain accepts ([`MAX_FUTURE_MS`]) is ignored: the mempool relays any
    /// `koinos.block.accept` bytes, and such a time, kept as the latest, would date every next
    /// block after it and the chain would refuse them all (-1010), for good.
    pub fn on_block_accepted(&self, head: bool, timestamp: u64) {
        if head && timestamp <= now_millis().saturating_add(MAX_FUTURE_MS) {
            self.last_head_time.fetch_max(timestamp, Ordering::Relaxed);
            self.heads_seen.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a `koinos.gossip.status` broadcast.
    pub fn on_gossip_status(&self, enabled: bool) {
        if self.options.gossip_production {
            self.gossip_enabled.store(enabled, Ordering::Relaxed);
        }
    }

    async fn head_info(&self) -> Result<GetHeadInfoResponse, ProduceError> {
        let request = ChainRequest {
            request: Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {})),
        };
        let response = self
            .chain
            .call(&request)
            .await
            .map_err(|source| ProduceError::Call {
                what: "unable to retrieve head info",
                source,
            })?;
        match response.response {
            Some(chain_response::Response::GetHeadInfo(info)) => Ok(info),
            _ => Err(ProduceError::UnexpectedResponse("get_head_info")),
        }
    }

    /// Builds the next (unsealed) block: header on the head, pending transactions that fit.
    pub async fn next_block(&self) -> Result<Block, ProduceError> {
        let head = self.head_info().await?;
        let header = next_header(
            &head,
            now_millis(),
            self.last_head_time.load(Ordering::Relaxed),
            self.key.address().to_vec(),
            &self.options.approved_proposals,
        );
        let pending_request = MempoolRequest {
            request: Some(mempool_request::Request::GetPendingTransactions(
                GetPendingTransactionsRequest {
                    limit: self.options.max_inclusion_attempts,
                    block_id: Some(header.previous.clone()),
                },
            )),
        };
        let limits_request = ChainRequest {
            request: Some(chain_request::Request::GetResourceLimits(
                GetResourceLimitsRequest {},
            )),
        };
        let (pending, limits) = tokio::join!(
            self.mempool.call(&pending_request),
            self.chain.call(&limits_request)
        );
        let pending = match pending.map_err(|source| ProduceError::Call {
            what: "unable to retrieve pending transactions",
            source,
        })? {
            MempoolResponse {
                response: Some(mempool_response::Response::GetPendingTransactions(p)),
            } => p.pending_transactions,
            _ => return Err(ProduceError::UnexpectedResponse("get_pending_transactions")),
        };
        let limits = match limits.map_err(|source| ProduceError::Call {
            what: "unable to retrieve block resources",
            source,
        })? {
            ChainResponse {
                response: Some(chain_response::Response::GetResourceLimits(r)),
            } => r.resource_limit_data.unwrap_or_default(),
            _ => return Err(ProduceError::UnexpectedResponse("get_resource_limits")),
        };
        let max_attempts =
            usize::try_from(self.options.max_inclusion_attempts).unwrap_or(usize::MAX);
        let (transactions, _) =
            select_transactions(&pending, &limits, self.options.bounds, max_attempts);
        Ok(Block {
            id: Vec::new(),
            header: Some(header),
            transactions,
            signature: Vec::new(),
        })
    }

    /// One production round: propose until the chain accepts the block (dropping the
    /// transactions it reports as failing). Returns the accepted block's receipt.
    pub async fn produce_once(&self) -> Result<BlockReceipt, ProduceError> {
        let block = self.next_block().await?;
        let key = self.key.private_key().clone();
        self.propose_until_accepted(block, move |block| {
            *block = seal_block(std::mem::take(block), &key);
        })
        .await
    }

    /// Seals `block` with `seal` and proposes it until the chain accepts it, dropping the
    /// transactions it reports as failing (and sealing again). Returns the receipt.
    pub(super) async fn propose_until_accepted(
        &self,
        mut block: Block,
        seal: impl Fn(&mut Block),
    ) -> Result<BlockReceipt, ProduceError> {
        loop {
            seal(&mut block);
            let request = ChainRequest {
                request: Some(chain_request::Request::ProposeBlock(ProposeBlockRequest {
                    block: Some(block.clone()),
                })),
            };
            let response =
                self.propose
                    .call(&request)
                    .await
                    .map_err(|source| ProduceError::Call {
                        what: "error while submitting block",
                        source,
                    })?;
            let Some(chain_response::Response::ProposeBlock(proposal)) = response.response else {
                return Err(ProduceError::UnexpectedResponse("propose_block"));
            };
            if let Some(receipt) = proposal.receipt {
                return Ok(receipt);
            }
            if proposal.failed_transaction_indices.is_empty() {
                return Err(ProduceError::NoReceiptNoFailures);
            }
            tracing::info!(
                failed = proposal.failed_transaction_indices.len(),
                "removing failed transactions and proposing again"
            );
            remove_failed(&mut block, &proposal.failed_transaction_indices);
        }
    }

    async fn gossip_status(&self) -> Option<bool> {
        let request = P2pRequest {
            request: Some(p2p_request::Request::GetGossipStatus(
                GetGossipStatusRequest {},
            )),
        };
        match self.p2p.call(&request).await {
            Ok(P2pResponse {
                response: Some(p2p_response::Response::GetGossipStatus(status)),
            }) => Some(status.enabled),
            _ => None,
        }
    }

    /// Produces every interval until `shutdown`, while gossip allows it.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut asked_p2p = false;
        loop {
            if self.options.gossip_production
                && !asked_p2p
                && !self.gossip_enabled.load(Ordering::Relaxed)
            {
                tracing::info!("checking p2p gossip status");
                if let Some(enabled) = self.gossip_status().await {
                    asked_p2p = true;
                    self.on_gossip_status(enabled);
                }
            }
            let mut pause = self.options.interval;
            if self.gossip_enabled.load(Ordering::Relaxed) {
                let outcome = match &self.options.algorithm {
                    Algorithm::Federated => self.produce_once().await.map(Some),
                    Algorithm::Pob(settings) => self.produce_pob_once(settings, &shutdown).await,
                };
                match outcome {
                    Ok(receipt) => {
                        if let Some(receipt) = receipt {
                            tracing::info!(
                                height = receipt.height,
                                id = %hex::encode(&receipt.id),
                                transactions = receipt.transaction_receipts.len(),
                                "produced block"
                            );
                        }
                        // Pob paces itself by the quanta it wins: the next round starts at
                        // once after a block or a new head.
                        if matches!(self.options.algorithm, Algorithm::Pob(_)) {
                            pause = Duration::ZERO;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "block production failed"),
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use koinos_protocol::{BlockTopology, Transaction};

    /// Found reviewing the broadcast paths for services/tests/fuzz_amqp.rs: one far-future
    /// head time on `koinos.block.accept` stopped production until the producer restarted.
    #[tokio::test]
    async fn a_head_time_no_chain_accepts_is_ignored() {
        let conn = crate::mq::Connection::connect_supervised("amqp://guest:guest@127.0.0.1:1/")
            .expect("a valid URL");
        let producer = Producer::new(
            &crate::mq::RpcClient::new(&conn),
            ProducerKey::generate(),
            ProducerOptions::default(),
        );
        let now = now_millis();
        producer.on_block_accepted(true, u64::MAX);
        producer.on_block_accepted(true, now + MAX_FUTURE_MS + 60_000);
        assert_eq!(producer.last_head_time.load(Ordering::Relaxed), 0);
        producer.on_block_accepted(true, now + 1_000);
        assert_eq!(producer.last_head_time.load(Ordering::Relaxed), now + 1_000);
        assert_eq!(producer.heads_seen.load(Ordering::Relaxed), 1);
        // A fork's head with an earlier time still counts as a new head (it ends a pob round).
        producer.on_block_accepted(true, now);
        assert_eq!(producer.last_head_time.load(Ordering::Relaxed), now + 1_000);
        assert_eq!(producer.heads_seen.load(Ordering::Relaxed), 2);
    }

    fn head(height: u64, time: u64) -> GetHeadInfoResponse {
        GetHeadInfoResponse {
            head_topology: Some(BlockTopology {
                id: vec![0x12, 0x20, 7],
                height,
                previous: Vec::new(),
            }),
            last_irreversible_block: 0,
            head_state_merkle_root: vec![9, 9],
            head_block_time: time,
        }
    }

    #[test]
    fn header_builds_on_the_head() {
        let header = next_header(&head(4, 1_000), 5_000, 0, vec![1], &[vec![2]]);
        assert_eq!(header.previous, vec![0x12, 0x20, 7]);
        assert_eq!(header.height, 5);
        assert_eq!(header.timestamp, 5_000);
        assert_eq!(header.previous_state_merkle_root, vec![9, 9]);
        assert_eq!(header.signer, vec![1]);
        assert_eq!(header.approved_proposals, vec![vec![2]]);
    }

    #[test]
    fn timestamp_never_goes_back_nor_repeats_the_head_time() {
        assert_eq!(
            next_header(&head(1, 9_000), 5_000, 0, vec![], &[]).timestamp,
            9_001
        );
        assert_eq!(
            next_header(&head(1, 1_000), 5_000, 7_000, vec![], &[]).timestamp,
            7_000
        );
        assert_eq!(
            next_header(&head(0, 0), 5_000, 0, vec![], &[]).timestamp,
            5_000
        );
    }

    #[test]
    fn failed_transactions_are_removed_by_index() {
        let tx = |tag: u8| Transaction {
            id: vec![tag],
            ..Default::default()
        };
        let mut block = Block {
            transactions: vec![tx(0), tx(1), tx(2), tx(3)],
            ..Default::default()
        };
        remove_failed(&mut block, &[3, 1, 1, 9]);
        let left: Vec<u8> = block.transactions.iter().map(|t| t.id[0]).collect();
        assert_eq!(left, [0, 2]);
    }
}
