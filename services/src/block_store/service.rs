//! block_store over AMQP: the `koinos.rpc.block_store` handler and the `koinos.block.accept`
//! follower.

use koinos_protocol::broadcast::BlockAccepted;
use koinos_protocol::rpc::block_store::{
    AddBlockResponse, BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightResponse,
    GetBlocksByIdResponse, GetHighestBlockResponse, block_store_request::Request,
    block_store_response::Response,
};
use prost::Message;

use std::sync::Arc;
use std::time::Instant;

use super::{BlockStore, BlockStoreError, SERVICE};
use crate::mq::topology::topic;
use crate::mq::typed::{Handler, RpcError, dispatch};
use crate::mq::{Connection, MqError, RpcServer, ServerOptions, Subscriber};
use crate::runtime::Service;
use crate::runtime::metrics::RpcMetrics;
use crate::storage::{StoreArgs, StoreHandler};

/// Answers `block_store_request`s from the store. Disk work runs on the blocking pool.
pub type BlockStoreHandler = StoreHandler<BlockStore>;

impl Handler for BlockStoreHandler {
    type Request = BlockStoreRequest;
    type Response = BlockStoreResponse;

    async fn handle(&self, request: BlockStoreRequest) -> Result<BlockStoreResponse, RpcError> {
        let response = self
            .blocking("block store", move |store| handle_request(store, request))
            .await?;
        Ok(BlockStoreResponse {
            response: Some(response),
        })
    }
}

/// One request against the store (blocking).
pub fn handle_request(
    store: &BlockStore,
    request: BlockStoreRequest,
) -> Result<Response, BlockStoreError> {
    Ok(match request.request {
        Some(Request::GetBlocksById(r)) => Response::GetBlocksById(GetBlocksByIdResponse {
            block_items: store.get_blocks_by_id(&r.block_ids, r.return_block, r.return_receipt)?,
        }),
        Some(Request::GetBlocksByHeight(r)) => {
            Response::GetBlocksByHeight(GetBlocksByHeightResponse {
                block_items: store.get_blocks_by_height(
                    &r.head_block_id,
                    r.ancestor_start_height,
                    r.num_blocks,
                    r.return_block,
                    r.return_receipt,
                )?,
            })
        }
        Some(Request::AddBlock(r)) => {
            let block = r.block_to_add.ok_or(BlockStoreError::MissingBlock)?;
            store.add_block(block, r.receipt_to_add)?;
            Response::AddBlock(AddBlockResponse {})
        }
        Some(Request::GetHighestBlock(_)) => Response::GetHighestBlock(GetHighestBlockResponse {
            topology: Some(store.highest_block()?),
        }),
        // `dispatch` answers the ping and unset requests before the handler runs.
        Some(Request::Reserved(r)) => Response::Reserved(r),
        None => return Err(BlockStoreError::MissingBlock),
    })
}

/// Stores every block of `koinos.block.accept` (with its receipt) until the subscription ends.
pub async fn follow_accepted_blocks(store: BlockStore, mut subscriber: Subscriber) {
    while let Some(broadcast) = subscriber.recv().await {
        let accepted = match BlockAccepted::decode(broadcast.body.as_slice()) {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot parse koinos.block.accept broadcast");
                continue;
            }
        };
        let Some(block) = accepted.block else {
            tracing::warn!("koinos.block.accept broadcast without a block");
            continue;
        };
        let (id, height) = (
            block.id.clone(),
            block.header.as_ref().map_or(0, |h| h.height),
        );
        let store = store.clone();
        let stored =
            tokio::task::spawn_blocking(move || store.add_block(block, accepted.receipt)).await;
        match stored {
            Ok(Ok(())) => {
                tracing::debug!(height, id = %crate::storage::hex_id(&id), "stored accepted block")
            }
            Ok(Err(e)) => {
                tracing::warn!(height, id = %crate::storage::hex_id(&id), error = %e, "cannot store accepted block")
            }
            Err(e) => tracing::error!(error = %e, "block store task failed"),
        }
    }
}

/// The service: open `basedir/block_store/db`, follow accepted blocks, serve RPCs.
pub async fn run(service: Service<StoreArgs>) -> anyhow::Result<()> {
    let store = BlockStore::open(&service.settings.basedir, service.settings.args.reset())?;
    tracing::info!(path = %store.storage().path().display(), highest = store.highest_block()?.height, "block store opened");
    let subscriber = service.subscribe(&[topic::BLOCK_ACCEPT]);
    let follower = tokio::spawn(follow_accepted_blocks(store.clone(), subscriber));
    // Not ready, and not consuming the RPC queue, until caught up with the other replicas.
    super::catch_up(&store, &service.client(), super::CATCH_UP_TIMEOUT).await;
    service.readiness.set(true);
    let settings = &service.settings;
    let served = serve(&service.conn, &settings.rpc_queue, settings.jobs, store).await;
    follower.abort();
    Ok(served?)
}

/// Serves `queue` (`koinos.rpc.block_store` unless `rpc-queue` says otherwise) until the
/// connection drains. `get_blocks_by_height`
/// answers are spliced from the stored bytes (no block or receipt is decoded and re-encoded);
/// every other request, and any failing one, goes through [`BlockStoreHandler`].
pub async fn serve(
    conn: &Connection,
    queue: &str,
    jobs: usize,
    store: BlockStore,
) -> Result<(), MqError> {
    let metrics = RpcMetrics::for_service(SERVICE);
    let handler = Arc::new(BlockStoreHandler::new(store.clone()));
    let options = ServerOptions::new(jobs);
    RpcServer::serve_queue(conn, SERVICE, queue, options, move |body: Vec<u8>| {
        let (handler, metrics, store) = (handler.clone(), metrics.clone(), store.clone());
        async move {
            if let Some(reply) = spliced_blocks_by_height(&store, &metrics, &body).await {
                return Some(reply);
            }
            Some(dispatch(&*handler, &metrics, &body).await)
        }
    })
    .await
}

/// The encoded answer to a `get_blocks_by_height` request, or `None` for any other request
/// or a failing one (the typed path then answers with the same error text).
async fn spliced_blocks_by_height(
    store: &BlockStore,
    metrics: &RpcMetrics,
    body: &[u8],
) -> Option<Vec<u8>> {
    let started = Instant::now();
    let Ok(BlockStoreRequest {
        request: Some(Request::GetBlocksByHeight(r)),
    }) = BlockStoreRequest::decode(body)
    else {
        return None;
    };
    let store = store.clone();
    let reply = tokio::task::spawn_blocking(move || {
        store.get_blocks_by_height_response(
            &r.head_block_id,
            r.ancestor_start_height,
            r.num_blocks,
            r.return_block,
            r.return_receipt,
        )
    })
    .await
    .ok()?
    .ok()?;
    let method = "get_blocks_by_height";
    metrics.requests.with_label_values(&[method, "ok"]).inc();
    metrics
        .duration
        .with_label_values(&[method])
        .observe(started.elapsed().as_secs_f64());
    Some(reply)
}
