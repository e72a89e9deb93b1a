//! transaction_store over AMQP: the `koinos.rpc.transaction_store` handler and the
//! `koinos.block.accept` follower.

use koinos_protocol::broadcast::BlockAccepted;
use koinos_protocol::rpc::transaction_store::{
    GetTransactionsByIdResponse, TransactionStoreRequest, TransactionStoreResponse,
    transaction_store_request::Request, transaction_store_response::Response,
};
use prost::Message;

use super::TransactionStore;
use crate::mq::Subscriber;
use crate::mq::typed::{Handler, RpcError};
use crate::runtime::Service;
use crate::storage::{StoreArgs, hex_id};

/// The broadcast every replica records transactions from.
pub const BLOCK_ACCEPT: &str = "koinos.block.accept";

/// Answers `transaction_store_request`s. Disk work runs on the blocking pool.
#[derive(Clone)]
pub struct TransactionStoreHandler {
    store: TransactionStore,
}

impl TransactionStoreHandler {
    pub fn new(store: TransactionStore) -> Self {
        Self { store }
    }
}

impl Handler for TransactionStoreHandler {
    type Request = TransactionStoreRequest;
    type Response = TransactionStoreResponse;

    async fn handle(
        &self,
        request: TransactionStoreRequest,
    ) -> Result<TransactionStoreResponse, RpcError> {
        let Some(Request::GetTransactionsById(r)) = request.request else {
            return Err(RpcError::new("unknown request"));
        };
        let store = self.store.clone();
        let transactions =
            tokio::task::spawn_blocking(move || store.get_transactions_by_id(&r.transaction_ids))
                .await
                .map_err(|e| RpcError::new(format!("transaction store task failed: {e}")))?
                .map_err(|e| RpcError::new(e.to_string()))?;
        Ok(TransactionStoreResponse {
            response: Some(Response::GetTransactionsById(GetTransactionsByIdResponse {
                transactions,
            })),
        })
    }
}

/// Records the transactions of every block of `koinos.block.accept`, until the subscription
/// ends.
pub async fn follow_accepted_blocks(store: TransactionStore, mut subscriber: Subscriber) {
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
        let count = block.transactions.len();
        match tokio::task::spawn_blocking(move || store.add_block(&block)).await {
            Ok(Ok(())) => tracing::debug!(block = %id, transactions = count, "recorded block"),
            Ok(Err(e)) => tracing::warn!(block = %id, error = %e, "cannot record block"),
            Err(e) => tracing::error!(error = %e, "transaction store task failed"),
        }
    }
}

/// The service: open `basedir/transaction_store/db`, follow accepted blocks, serve RPCs.
pub async fn run(service: Service<StoreArgs>) -> anyhow::Result<()> {
    let store = TransactionStore::open(&service.settings.basedir, service.settings.args.reset())?;
    let subscriber = service.subscribe(&[BLOCK_ACCEPT]);
    let follower = tokio::spawn(follow_accepted_blocks(store.clone(), subscriber));
    // Not ready, and not consuming the RPC queue, until the missed blocks are recorded.
    super::catch_up(
        &store,
        &service.client(),
        crate::block_store::CATCH_UP_TIMEOUT,
    )
    .await;
    let served = service.serve(TransactionStoreHandler::new(store)).await;
    follower.abort();
    served
}
