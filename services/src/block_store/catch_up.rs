//! Start-up catch-up of a block_store replica (docs/design.md "Service classes"): before it consumes
//! `koinos.rpc.block_store` (and reports ready), a replica copies the blocks it lacks from the
//! other replicas over that same queue, which only they consume at that point.
//!
//! Target: chain's head (`get_head_info`) when chain answers, otherwise the highest block the
//! other replicas hold. No answer from either (a lone replica, or chain still starting and
//! waiting on us) means there is nothing to catch up from: the replica serves what it has.

use std::time::Duration;

use koinos_protocol::BlockTopology;
use koinos_protocol::rpc::block_store::{
    BlockStoreRequest, BlockStoreResponse, GetHighestBlockRequest, block_store_request,
    block_store_response,
};
use koinos_protocol::rpc::chain::{
    ChainRequest, ChainResponse, GetHeadInfoRequest, chain_request, chain_response,
};

use super::{BlockPager, BlockStore, SERVICE};
use crate::mq::topology::service;
use crate::mq::typed::TypedClient;
use crate::mq::{CallOptions, RpcClient};
use crate::storage::hex_id;

/// How long chain and the peers get to answer each catch-up request.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(3);
/// Blocks re-fetched below our highest: a fork switch may have replaced them (LIB distance).
const REORG_WINDOW: u64 = 60;

/// Copies blocks from the other replicas until this store reaches the target head; returns
/// the number of blocks copied. Never fails: a missing source only ends the catch-up.
pub async fn catch_up(store: &BlockStore, client: &RpcClient, timeout: Duration) -> u64 {
    let Some(target) = target_head(client, timeout).await else {
        tracing::info!("no chain head or peer to catch up from: serving what is stored");
        return 0;
    };
    let Some(ours) = blocking(store, |s| s.highest_block()).await else {
        return 0;
    };
    if ours.height >= target.height {
        tracing::info!(height = ours.height, "up to date");
        return 0;
    }
    // Progress is tracked by the pager, not by our highest block: blocks broadcast meanwhile
    // may raise it above a gap the catch-up still has to fill.
    let options = CallOptions::timeout(timeout);
    let mut pages =
        BlockPager::new(client, options, &target, catch_up_start(ours.height)).with_receipts();
    let mut copied = 0;
    loop {
        let items = match pages.next_page().await {
            Ok(Some(items)) => items,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, start = pages.next_height(), target = target.height, "catch-up stopped: serving what is stored");
                return copied;
            }
        };
        let Some(last) = items.last().map(|i| i.block_height) else {
            return copied;
        };
        let count = items.len() as u64;
        let batch: Vec<_> = items
            .into_iter()
            .filter_map(|item| item.block.map(|block| (block, item.receipt)))
            .collect();
        if blocking(store, move |s| s.add_blocks(batch))
            .await
            .is_none()
        {
            return copied;
        }
        copied += count;
        tracing::info!(
            up_to = last,
            target = target.height,
            "copied blocks from a peer"
        );
    }
    tracing::info!(height = target.height, copied, "caught up");
    copied
}

/// First height to re-read when catching up from `ours`: a fork switch may have replaced the
/// last blocks (LIB distance).
pub fn catch_up_start(ours: u64) -> u64 {
    ours.saturating_sub(REORG_WINDOW).max(1)
}

/// Chain's head if chain answers, otherwise block_store's highest block (if above zero).
pub async fn target_head(client: &RpcClient, timeout: Duration) -> Option<BlockTopology> {
    let options = CallOptions::timeout(timeout);
    let chain: TypedClient<ChainRequest, ChainResponse> =
        TypedClient::new(client, service::CHAIN, options);
    let peers: TypedClient<BlockStoreRequest, BlockStoreResponse> =
        TypedClient::new(client, SERVICE, options);
    let head_info = chain
        .call(&ChainRequest {
            request: Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {})),
        })
        .await;
    if let Ok(ChainResponse {
        response: Some(chain_response::Response::GetHeadInfo(info)),
    }) = head_info
        && let Some(head) = info.head_topology
    {
        tracing::info!(height = head.height, id = %hex_id(&head.id), "catch-up target: chain head");
        return Some(head);
    }
    let highest = peers
        .call(&BlockStoreRequest {
            request: Some(block_store_request::Request::GetHighestBlock(
                GetHighestBlockRequest {},
            )),
        })
        .await;
    match highest {
        Ok(BlockStoreResponse {
            response: Some(block_store_response::Response::GetHighestBlock(r)),
        }) => r.topology.filter(|t| t.height > 0).inspect(|t| {
            tracing::info!(height = t.height, id = %hex_id(&t.id), "catch-up target: block_store's highest block");
        }),
        _ => None,
    }
}

/// Runs store work on the blocking pool; logs and returns `None` on failure.
async fn blocking<T: Send + 'static>(
    store: &BlockStore,
    work: impl FnOnce(&BlockStore) -> super::Result<T> + Send + 'static,
) -> Option<T> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || work(&store)).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "catch-up store operation failed");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "catch-up task failed");
            None
        }
    }
}
