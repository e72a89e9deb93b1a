//! The `koinos-chain` process: options, start-up (genesis, state, pings, catch-up from
//! block_store) and serving `koinos.rpc.chain`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use koinos_protocol::broadcast::BlockAccepted;
use koinos_protocol::rpc::block_store::{
    BlockStoreRequest, BlockStoreResponse, GetHighestBlockRequest, block_store_request,
    block_store_response,
};
use prost::Message;
use serde::{Deserialize, Serialize};

use super::broadcasts::LIVE_WINDOW_MS;
use super::controller::Chain;
use super::error::{ChainError, ChainResult, code};
use super::fork::ForkAlgorithm;
use super::genesis::load_genesis;
use super::service::{ChainService, ServiceOptions, follow_accepted_blocks, now_ms};
use crate::block_store::{BlockPager, PageError};
use crate::mq::topology::{service, topic};
use crate::mq::typed::{CallError, RequestEnvelope};
use crate::mq::{CallOptions, RpcClient};
use crate::runtime::Service;

/// `chain` options (official names); unset ones fall back to `global`, then the defaults.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ChainArgs {
    /// State directory, relative to basedir/chain [default: blockchain]
    #[arg(long)]
    pub statedir: Option<PathBuf>,
    /// Genesis data JSON [default: basedir/chain/genesis_data.json]
    #[arg(short = 'g', long)]
    pub genesis_data: Option<PathBuf>,
    /// Fork choice: fifo, block-time or pob [default: fifo]
    #[arg(short = 'f', long)]
    pub fork_algorithm: Option<String>,
    /// Compute a read_contract call may use (a call costs 5000) [default: 10000000]
    #[arg(short = 'b', long)]
    pub read_compute_bandwidth_limit: Option<u64>,
    /// System call buffer size (accepted for compatibility) [default: 64000]
    #[arg(long)]
    pub system_call_buffer_size: Option<u64>,
    /// Pending transactions allowed per account in the mempool [default: 10]
    #[arg(long)]
    pub pending_transaction_limit: Option<u64>,
    /// Do not limit pending transactions per account
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub disable_pending_transaction_limit: Option<bool>,
    /// Re-execute (and so verify) blocks in catch-up instead of applying their receipts' deltas
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub verify_blocks: Option<bool>,
    /// Delete the chain state before starting
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub reset: Option<bool>,
}

fn failure(message: String) -> anyhow::Error {
    anyhow::anyhow!(message)
}

/// Opens the chain state from the settings (genesis, statedir, reset, fork algorithm).
pub fn open_chain(chain_dir: &std::path::Path, args: &ChainArgs) -> anyhow::Result<Chain> {
    let algorithm: ForkAlgorithm = args
        .fork_algorithm
        .as_deref()
        .unwrap_or("fifo")
        .parse()
        .map_err(failure)?;
    let genesis_path = args
        .genesis_data
        .clone()
        .unwrap_or_else(|| chain_dir.join("genesis_data.json"));
    let genesis = load_genesis(&chain_dir.join(genesis_path)).map_err(|e| failure(e.message))?;
    let statedir = chain_dir.join(args.statedir.clone().unwrap_or_else(|| "blockchain".into()));
    if args.reset == Some(true) && statedir.exists() {
        std::fs::remove_dir_all(&statedir)?;
    }
    let mut chain = Chain::open(&statedir, &genesis, algorithm).map_err(|e| failure(e.message))?;
    if let Some(limit) = args.read_compute_bandwidth_limit {
        chain.set_read_compute_limit(limit);
    }
    Ok(chain)
}

/// `verify-blocks` (default false): catch-up re-executes blocks rather than applying deltas.
pub fn verify_blocks(args: &ChainArgs) -> bool {
    args.verify_blocks.unwrap_or(false)
}

/// Waits until `service` answers a `reserved` ping (any answer counts).
async fn wait_for(
    client: &RpcClient,
    service: &str,
    ping: &[u8],
    shutdown: &tokio_util::sync::CancellationToken,
) -> bool {
    loop {
        if client
            .call(service, ping, CallOptions::timeout(Duration::from_secs(1)))
            .await
            .is_ok()
        {
            return true;
        }
        tracing::info!(service, "waiting for service");
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// How chain calls block_store at start-up: retried with the Koinos backoff for up to 30 s.
fn block_store_options() -> CallOptions {
    CallOptions::koinos_backoff(Duration::from_secs(30))
}

/// A failed block_store call, as chain reports it.
fn indexer_failure(detail: impl std::fmt::Display) -> ChainError {
    ChainError::new(
        code::INDEXER_FAILURE,
        format!("block_store call failed: {detail}"),
    )
}

/// A failed catch-up page, as chain reports it.
fn page_failure(error: PageError) -> ChainError {
    match error {
        PageError::Call(CallError::Remote { message, .. }) => indexer_failure(message),
        PageError::Call(CallError::Mq(e)) => indexer_failure(e),
        PageError::Call(CallError::Decode(e)) => indexer_failure(e),
        PageError::Unexpected { empty: true } => indexer_failure("empty response"),
        PageError::Unexpected { empty: false } => ChainError::new(
            code::INDEXER_FAILURE,
            "unexpected get_blocks_by_height response",
        ),
    }
}

async fn block_store_call(
    client: &RpcClient,
    request: block_store_request::Request,
) -> ChainResult<block_store_response::Response> {
    let body = BlockStoreRequest {
        request: Some(request),
    }
    .encode_to_vec();
    let reply = client
        .call(service::BLOCK_STORE, &body, block_store_options())
        .await
        .map_err(indexer_failure)?;
    match BlockStoreResponse::decode(reply.as_slice())
        .map_err(indexer_failure)?
        .response
    {
        Some(block_store_response::Response::Error(e)) => Err(indexer_failure(e.message)),
        Some(response) => Ok(response),
        None => Err(indexer_failure("empty response")),
    }
}

/// Blocks read in catch-up that are announced again afterwards: the reversible window.
pub const REANNOUNCED_BLOCKS: usize = 60;

/// What [`catch_up`] did.
#[derive(Debug, Default)]
pub struct CaughtUp {
    /// Blocks indexed.
    pub indexed: u64,
    /// The last [`REANNOUNCED_BLOCKS`] blocks read (the reversible window up to block_store's
    /// highest), oldest first, as `koinos.block.accept` announces them. Any may never have
    /// been announced: a chain killed between block_store's `add_block` and its commit (the
    /// block is indexed now) or between its commit and its broadcasts (it is already in the
    /// state), and then the mempool (asked for the head's pending transactions),
    /// transaction_store and account_history would never hear of it.
    pub unannounced: Vec<BlockAccepted>,
}

/// Catch-up (docs/protocol.md "Start-up and catch-up"): applies block_store's blocks above our
/// LIB, in batches of 50 doubling to 1000, from their receipts' state deltas, or with `verify`
/// (`verify-blocks`) by re-executing and so verifying each one. Nothing is stored or broadcast
/// here; the caller announces [`CaughtUp::unannounced`].
pub async fn catch_up(
    chain: &mut Chain,
    client: &RpcClient,
    verify: bool,
) -> ChainResult<CaughtUp> {
    let highest = match block_store_call(
        client,
        block_store_request::Request::GetHighestBlock(GetHighestBlockRequest {}),
    )
    .await?
    {
        block_store_response::Response::GetHighestBlock(r) => r.topology.unwrap_or_default(),
        _ => {
            return Err(ChainError::new(
                code::INDEXER_FAILURE,
                "unexpected get_highest_block response",
            ));
        }
    };
    let mut pages = BlockPager::new(
        client,
        block_store_options(),
        &highest,
        chain.lib().height + 1,
    )
    .with_receipts()
    .growing_from(50);
    let mut caught_up = CaughtUp::default();
    let mut recent = std::collections::VecDeque::new();
    chain.set_durable(false)?;
    while let Some(items) = pages.next_page().await.map_err(page_failure)? {
        if items.is_empty() {
            break;
        }
        for item in items {
            let Some(block) = item.block else {
                return Err(ChainError::new(
                    code::INDEXER_FAILURE,
                    "block store item without a block",
                ));
            };
            if chain.catch_up_block(&block, item.receipt.as_ref(), verify, now_ms())? {
                caught_up.indexed += 1;
            }
            if chain.block_info(&block.id).is_some() {
                if recent.len() == REANNOUNCED_BLOCKS {
                    recent.pop_front();
                }
                recent.push_back((block, item.receipt));
            }
        }
        tracing::info!(
            height = pages.next_height() - 1,
            target = highest.height,
            "catching up from block_store"
        );
    }
    chain.set_durable(true)?;
    let (head, now) = (chain.head().id.clone(), now_ms());
    caught_up.unannounced = recent
        .into_iter()
        .map(|(block, receipt)| {
            let timestamp = block.header.as_ref().map_or(0, |h| h.timestamp);
            BlockAccepted {
                head: block.id == head,
                live: timestamp > now.saturating_sub(LIVE_WINDOW_MS),
                block: Some(block),
                receipt,
            }
        })
        .collect();
    Ok(caught_up)
}

/// The chain process body for [`crate::runtime::run`].
pub async fn run(service: Service<ChainArgs>) -> anyhow::Result<()> {
    let args = service.settings.args.clone();
    let mut chain = open_chain(&service.settings.service_dir(), &args)?;
    tracing::info!(
        chain_id = %format!("0x{}", hex::encode(chain.chain_id())),
        head = chain.head().height,
        lib = chain.lib().height,
        "state opened"
    );
    let client = service.client();
    let shutdown = service.shutdown();
    let block_store_ping = BlockStoreRequest::reserved().encode_to_vec();
    let mempool_ping = koinos_protocol::rpc::mempool::MempoolRequest::reserved().encode_to_vec();
    if !wait_for(&client, service::BLOCK_STORE, &block_store_ping, &shutdown).await
        || !wait_for(&client, service::MEMPOOL, &mempool_ping, &shutdown).await
    {
        return Ok(());
    }
    // Subscribed before catch-up, so no block accepted meanwhile is missed: the broker keeps
    // them until the follower runs.
    let accepted = service.subscribe(&[topic::BLOCK_ACCEPT]);
    if let Err(e) = accepted.wait_bound(Duration::from_secs(30)).await {
        tracing::warn!(error = %e, "koinos.block.accept subscription not bound yet");
    }
    let caught_up = catch_up(&mut chain, &client, verify_blocks(&args))
        .await
        .map_err(|e| failure(e.message))?;
    tracing::info!(
        indexed = caught_up.indexed,
        head = chain.head().height,
        "caught up"
    );
    let broadcaster = service.broadcaster();
    for accepted in &caught_up.unannounced {
        if let Err(e) = broadcaster
            .publish(topic::BLOCK_ACCEPT, &accepted.encode_to_vec())
            .await
        {
            tracing::warn!(error = %e, "cannot announce a caught-up block");
        }
    }
    let options = ServiceOptions {
        pending_transaction_limit: args.pending_transaction_limit.unwrap_or(10),
        disable_pending_transaction_limit: args.disable_pending_transaction_limit.unwrap_or(false),
    };
    let chain_service = ChainService::new(chain, client, service.broadcaster(), options);
    let follower = tokio::spawn(follow_accepted_blocks(chain_service.clone(), accepted));
    let served = service.serve(chain_service).await;
    follower.abort();
    served
}
