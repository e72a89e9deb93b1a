//! Stores that index accepted blocks (transaction_store, contract_meta_store): how they follow
//! `koinos.block.accept`, and their start-up catch-up (docs/design.md "Service classes"): before a replica consumes
//! its RPC queue (and reports ready), it records the blocks it missed, read from block_store up
//! to chain's head (or block_store's highest block when chain does not answer). Without a
//! source it serves what it has.

use std::time::Duration;

use koinos_protocol::Block;
use koinos_protocol::broadcast::BlockAccepted;
use prost::Message;

use super::{BlockPager, catch_up_start, target_head};
use crate::mq::{CallOptions, RpcClient, Subscriber};
use crate::storage::hex_id;

/// What following and catching up need of an indexing store. Calls run on the blocking pool.
pub trait BlockIndex: Clone + Send + 'static {
    type Error: std::fmt::Display + Send + 'static;
    /// What one record is, for logs (`transactions`, `uploads`).
    const RECORDS: &'static str;
    /// Height of the highest block recorded (0 when empty).
    fn highest_height(&self) -> Result<u64, Self::Error>;
    /// Records `blocks`, in order, in one durable write; returns the number of records.
    fn record_blocks(&self, blocks: &[Block]) -> Result<usize, Self::Error>;
}

/// Records every block of `koinos.block.accept`, until the subscription ends.
pub async fn follow_accepted_blocks_into<S: BlockIndex>(store: S, mut subscriber: Subscriber) {
    while let Some(broadcast) = subscriber.recv().await {
        let block = match BlockAccepted::decode(broadcast.body.as_slice()) {
            Ok(BlockAccepted {
                block: Some(block), ..
            }) => block,
            Ok(_) => {
                tracing::warn!("koinos.block.accept broadcast without a block");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot parse koinos.block.accept broadcast");
                continue;
            }
        };
        let store = store.clone();
        let id = hex_id(&block.id);
        match tokio::task::spawn_blocking(move || store.record_blocks(std::slice::from_ref(&block)))
            .await
        {
            Ok(Ok(records)) => {
                tracing::debug!(block = %id, records, of = S::RECORDS, "recorded block")
            }
            Ok(Err(e)) => tracing::warn!(block = %id, error = %e, "cannot record block"),
            Err(e) => tracing::error!(error = %e, "store task failed"),
        }
    }
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
    let options = CallOptions::timeout(timeout);
    let mut pages = BlockPager::new(client, options, &target, catch_up_start(ours));
    let mut read = 0;
    loop {
        let items = match pages.next_page().await {
            Ok(Some(items)) => items,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, start = pages.next_height(), "catch-up stopped: serving what is stored");
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
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "catch-up stopped: cannot record blocks");
                return read;
            }
            Err(e) => {
                tracing::error!(error = %e, "catch-up task failed");
                return read;
            }
        }
        tracing::info!(
            up_to = last,
            target = target.height,
            "recorded blocks from block_store"
        );
    }
    tracing::info!(height = target.height, read, "caught up");
    read
}
