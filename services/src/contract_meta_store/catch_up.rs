//! Start-up catch-up of a contract_meta_store replica (design §2): before it consumes
//! `koinos.rpc.contract_meta_store` (and reports ready), it records the uploads of the blocks
//! it missed, read from block_store up to chain's head (or block_store's highest block when
//! chain does not answer). Without a source it serves what it has.

use std::time::Duration;

use super::ContractMetaStore;
use crate::block_store::{catch_up_start, fetch_blocks, target_head};
use crate::mq::RpcClient;

/// Records missed blocks; returns how many blocks were read. Never fails.
pub async fn catch_up(store: &ContractMetaStore, client: &RpcClient, timeout: Duration) -> u64 {
    let Some(target) = target_head(client, timeout).await else {
        tracing::info!("no chain head or block_store to catch up from: serving what is stored");
        return 0;
    };
    let ours = {
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.highest_block()).await {
            Ok(Ok(highest)) => highest.map_or(0, |h| h.height),
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
        match tokio::task::spawn_blocking(move || store.add_blocks(&blocks)).await {
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
