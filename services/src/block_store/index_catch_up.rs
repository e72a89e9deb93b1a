//! Start-up catch-up of a store that indexes accepted blocks (transaction_store,
//! contract_meta_store; design §2): before it consumes its RPC queue (and reports ready), it
//! records the blocks it missed, read from block_store up to chain's head (or block_store's
//! highest block when chain does not answer). Without a source it serves what it has.

use std::time::Duration;

use koinos_protocol::Block;

use super::{catch_up_start, fetch_blocks, target_head};
use crate::mq::RpcClient;

/// What the catch-up needs of an indexing store. Calls run on the blocking pool.
pub trait BlockIndex: Clone + Send + 'static {
    type Error: std::fmt::Display + Send + 'static;
    /// Height of the highest block recorded (0 when empty).
    fn highest_height(&self) -> Result<u64, Self::Error>;
    /// Records `blocks`, in order, in one durable write.
    fn record_blocks(&self, blocks: &[Block]) -> Result<(), Self::Error>;
}

/// Records missed blocks; returns how many blocks were read. Never fails.
pub async fn catch_up_index<S: BlockIndex>(
    store: &S,
    client: &RpcClient,
    timeout: Duration,
) -> u64 {
    let Some(target) = target_head(client, timeout).await else {
        tracing::info!("no chain head or block_store to catch up from: serving what is stored");
        return 0;
    };
    let ours = {
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.highest_height()).await {
            Ok(Ok(height)) => height,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the highest block: serving what is stored");
                return 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "catch-up task failed");
                return 0;
            }
        }
    };
    if ours >= target.height {
        tracing::info!(height = ours, "up to date");
        return 0;
    }
    let (mut start, mut read) = (catch_up_start(ours), 0);
    while start <= target.height {
        let items = match fetch_blocks(client, timeout, &target, start, false).await {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, start, "catch-up stopped: serving what is stored");
                return read;
            }
        };
        let Some(last) = items.last().map(|i| i.block_height) else {
            return read;
        };
        read += items.len() as u64;
        let blocks: Vec<_> = items.into_iter().filter_map(|i| i.block).collect();
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.record_blocks(&blocks)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "catch-up stopped: cannot record blocks");
                return read;
            }
            Err(e) => {
                tracing::error!(error = %e, "catch-up task failed");
                return read;
            }
        }
        start = last + 1;
        tracing::info!(
            up_to = last,
            target = target.height,
            "recorded blocks from block_store"
        );
    }
    tracing::info!(height = target.height, read, "caught up");
    read
}
