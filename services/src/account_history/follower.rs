//! Keeps the history current: replays `koinos.block.accept` and `koinos.block.irreversible`
//! in arrival order, and back-fills from block_store whatever it missed (at start-up, and
//! whenever a block arrives whose parent is unknown).

use std::time::Duration;

use koinos_protocol::BlockTopology;
use koinos_protocol::broadcast::{BlockAccepted, BlockIrreversible};
use koinos_protocol::rpc::chain::{
    ChainRequest, ChainResponse, GetHeadInfoRequest, chain_request, chain_response,
};
use prost::Message;

use super::AccountHistory;
use super::forks::Link;
use crate::block_store::{BlockPager, target_head};
use crate::chain::fork::irreversible_height;
use crate::mq::topology::{service, topic};
use crate::mq::typed::TypedClient;
use crate::mq::{CallOptions, RpcClient, Subscriber};
use crate::storage::hex_id;

/// The single writer of an [`AccountHistory`] fed by broadcasts and block_store.
pub struct Follower {
    history: AccountHistory,
    client: RpcClient,
    timeout: Duration,
    /// The highest LIB chain reported: back-filled blocks up to it are committed at once.
    chain_lib: u64,
}

impl Follower {
    pub fn new(history: AccountHistory, client: RpcClient, timeout: Duration) -> Self {
        Self {
            history,
            client,
            timeout,
            chain_lib: 0,
        }
    }

    /// Replays the blocks missing up to chain's head (or block_store's highest block when
    /// chain does not answer); returns the number of blocks read. Never fails.
    pub async fn catch_up(&mut self) -> u64 {
        let target = match self.chain_head().await {
            Some((head, lib)) => {
                self.chain_lib = self.chain_lib.max(lib);
                head
            }
            None => match target_head(&self.client, self.timeout).await {
                Some(head) => {
                    // No LIB from chain: its rule (head − 60) bounds what we keep reversible.
                    // Chain's head is at least as high as any stored block, and two forks at
                    // the top share every block one below that LIB, so those are final.
                    let lib = irreversible_height(head.height).saturating_sub(1);
                    self.chain_lib = self.chain_lib.max(lib);
                    head
                }
                None => {
                    tracing::info!("no chain head or block_store to catch up from");
                    return 0;
                }
            },
        };
        let read = self.back_fill(&target).await;
        let (lib, head) = self.history.lib_and_head();
        tracing::info!(lib = lib.height, head = head.height, read, "caught up");
        read
    }

    /// Applies broadcasts until the subscription ends.
    pub async fn run(mut self, mut subscriber: Subscriber) {
        while let Some(broadcast) = subscriber.recv().await {
            match broadcast.topic.as_str() {
                topic::BLOCK_ACCEPT => match BlockAccepted::decode(broadcast.body.as_slice()) {
                    Ok(accepted) => self.on_accepted(accepted).await,
                    Err(e) => tracing::warn!(error = %e, "cannot parse koinos.block.accept"),
                },
                topic::BLOCK_IRREVERSIBLE => {
                    match BlockIrreversible::decode(broadcast.body.as_slice()) {
                        Ok(BlockIrreversible {
                            topology: Some(lib),
                        }) => self.on_irreversible(lib).await,
                        _ => tracing::warn!("cannot parse koinos.block.irreversible"),
                    }
                }
                other => tracing::debug!(topic = other, "ignored broadcast"),
            }
        }
    }

    async fn on_accepted(&mut self, accepted: BlockAccepted) {
        let Some(topology) = accepted.block.as_ref().map(|b| BlockTopology {
            id: b.id.clone(),
            height: b.header.as_ref().map_or(0, |h| h.height),
            previous: b
                .header
                .as_ref()
                .map(|h| h.previous.clone())
                .unwrap_or_default(),
        }) else {
            tracing::warn!("koinos.block.accept without a block");
            return;
        };
        let history = self.history.clone();
        match blocking(move || history.add_block(&accepted)).await {
            Some(Link::Unlinked) => {
                tracing::info!(block = %hex_id(&topology.id), height = topology.height, "block does not link: back-filling from block_store");
                self.back_fill(&topology).await;
                if !self.history.contains(&topology.id) {
                    tracing::warn!(block = %hex_id(&topology.id), "block still does not link: skipped");
                }
            }
            Some(link) => {
                tracing::debug!(block = %hex_id(&topology.id), height = topology.height, ?link, "block recorded")
            }
            None => {}
        }
    }

    async fn on_irreversible(&mut self, lib: BlockTopology) {
        self.chain_lib = self.chain_lib.max(lib.height);
        let ours = self.history.lib_and_head().0;
        if lib.height <= ours.height {
            return;
        }
        if !self.history.contains(&lib.id) {
            self.back_fill(&lib).await;
        }
        self.commit(lib.id).await;
    }

    async fn commit(&self, id: Vec<u8>) {
        let history = self.history.clone();
        if blocking(move || history.commit(&id)).await == Some(true) {
            let lib = self.history.lib_and_head().0;
            tracing::debug!(height = lib.height, id = %hex_id(&lib.id), "irreversible");
        }
    }

    /// Adds the ancestors of `target` above our LIB (and `target`) from block_store,
    /// committing those at or below chain's LIB; returns the number of blocks read.
    async fn back_fill(&mut self, target: &BlockTopology) -> u64 {
        let start = self.history.lib_and_head().0.height + 1;
        let options = CallOptions::timeout(self.timeout);
        let mut pages = BlockPager::new(&self.client, options, target, start).with_receipts();
        let mut read = 0;
        loop {
            let items = match pages.next_page().await {
                Ok(Some(items)) => items,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, start = pages.next_height(), target = target.height, "back-fill stopped");
                    return read;
                }
            };
            let Some(last) = items.last().map(|i| i.block_height) else {
                return read;
            };
            read += items.len() as u64;
            let irreversible = items
                .iter()
                .rev()
                .find(|i| i.block_height <= self.chain_lib)
                .map(|i| i.block_id.clone());
            let blocks: Vec<BlockAccepted> = items
                .into_iter()
                .map(|i| BlockAccepted {
                    block: i.block,
                    receipt: i.receipt,
                    ..Default::default()
                })
                .collect();
            let history = self.history.clone();
            if blocking(move || history.add_blocks(&blocks))
                .await
                .is_none()
            {
                return read;
            }
            if let Some(id) = irreversible {
                self.commit(id).await;
            }
            tracing::info!(
                up_to = last,
                target = target.height,
                "back-filled from block_store"
            );
        }
        read
    }

    /// chain's head and LIB height, if chain answers.
    async fn chain_head(&self) -> Option<(BlockTopology, u64)> {
        let chain: TypedClient<ChainRequest, ChainResponse> = TypedClient::new(
            &self.client,
            service::CHAIN,
            CallOptions::timeout(self.timeout),
        );
        let request = ChainRequest {
            request: Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {})),
        };
        match chain.call(&request).await.ok()?.response {
            Some(chain_response::Response::GetHeadInfo(info)) => info
                .head_topology
                .map(|head| (head, info.last_irreversible_block)),
            _ => None,
        }
    }
}

/// Runs history work on the blocking pool; logs and returns `None` on failure.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> super::Result<T> + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "account history write failed");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "account history task failed");
            None
        }
    }
}
