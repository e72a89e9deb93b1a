//! The `koinos-chain` process: options, start-up (genesis, state, pings, catch-up from
//! block_store) and serving `koinos.rpc.chain`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use koinos_protocol::rpc::block_store::{
    BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightRequest, GetHighestBlockRequest,
    block_store_request, block_store_response,
};
use prost::Message;
use serde::{Deserialize, Serialize};

use super::controller::Chain;
use super::error::{ChainError, ChainResult, code};
use super::fork::ForkAlgorithm;
use super::genesis::load_genesis;
use super::service::{ChainService, ServiceOptions};
use crate::mq::typed::RequestEnvelope;
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
    /// Compute limit of read_contract (accepted for compatibility; native contracts are unmetered)
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
    /// Re-execute blocks during catch-up instead of applying receipt deltas (accepted; deltas are used)
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
    Chain::open(&statedir, &genesis, algorithm).map_err(|e| failure(e.message))
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

async fn block_store_call(
    client: &RpcClient,
    request: block_store_request::Request,
) -> ChainResult<block_store_response::Response> {
    let body = BlockStoreRequest {
        request: Some(request),
    }
    .encode_to_vec();
    let indexer = |e: String| {
        ChainError::new(
            code::INDEXER_FAILURE,
            format!("block_store call failed: {e}"),
        )
    };
    let reply = client
        .call(
            "block_store",
            &body,
            CallOptions::koinos_backoff(Duration::from_secs(30)),
        )
        .await
        .map_err(|e| indexer(e.to_string()))?;
    match BlockStoreResponse::decode(reply.as_slice())
        .map_err(|e| indexer(e.to_string()))?
        .response
    {
        Some(block_store_response::Response::Error(e)) => Err(indexer(e.message)),
        Some(response) => Ok(response),
        None => Err(indexer("empty response".into())),
    }
}

/// Catch-up (§6.1): applies block_store's blocks above our LIB from their receipts' state
/// deltas, in batches of 50 doubling to 1000. Returns the number of blocks indexed.
pub async fn catch_up(chain: &mut Chain, client: &RpcClient) -> ChainResult<u64> {
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
    let mut next = chain.lib().height + 1;
    let mut batch = 50u32;
    let mut indexed = 0;
    chain.set_durable(false)?;
    while next <= highest.height {
        let request = GetBlocksByHeightRequest {
            head_block_id: highest.id.clone(),
            ancestor_start_height: next,
            num_blocks: batch,
            return_block: true,
            return_receipt: true,
        };
        let items = match block_store_call(
            client,
            block_store_request::Request::GetBlocksByHeight(request),
        )
        .await?
        {
            block_store_response::Response::GetBlocksByHeight(r) => r.block_items,
            _ => {
                return Err(ChainError::new(
                    code::INDEXER_FAILURE,
                    "unexpected get_blocks_by_height response",
                ));
            }
        };
        if items.is_empty() {
            break;
        }
        for item in items {
            let (Some(block), Some(receipt)) = (item.block, item.receipt) else {
                return Err(ChainError::new(
                    code::INDEXER_FAILURE,
                    "block store item without block or receipt",
                ));
            };
            if chain.index_block(&block, &receipt)? {
                indexed += 1;
            }
            next = item.block_height + 1;
        }
        tracing::info!(
            height = next - 1,
            target = highest.height,
            "catching up from block_store"
        );
        batch = (batch * 2).min(1000);
    }
    chain.set_durable(true)?;
    Ok(indexed)
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
    if !wait_for(&client, "block_store", &block_store_ping, &shutdown).await
        || !wait_for(&client, "mempool", &mempool_ping, &shutdown).await
    {
        return Ok(());
    }
    let indexed = catch_up(&mut chain, &client)
        .await
        .map_err(|e| failure(e.message))?;
    tracing::info!(indexed, head = chain.head().height, "caught up");
    let options = ServiceOptions {
        pending_transaction_limit: args.pending_transaction_limit.unwrap_or(10),
        disable_pending_transaction_limit: args.disable_pending_transaction_limit.unwrap_or(false),
    };
    service
        .serve(ChainService::new(
            chain,
            client,
            service.broadcaster(),
            options,
        ))
        .await
}
