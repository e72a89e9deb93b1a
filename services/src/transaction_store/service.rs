//! transaction_store over AMQP: the `koinos.rpc.transaction_store` handler and the service
//! (it follows `koinos.block.accept` with [`crate::block_store::follow_accepted_blocks_into`]).

use koinos_protocol::rpc::transaction_store::{
    GetTransactionsByIdResponse, TransactionStoreRequest, TransactionStoreResponse,
    transaction_store_request::Request, transaction_store_response::Response,
};

use super::TransactionStore;
use crate::mq::topology::topic;
use crate::mq::typed::{Handler, RpcError};
use crate::runtime::Service;
use crate::storage::{StoreArgs, StoreHandler};

/// Answers `transaction_store_request`s. Disk work runs on the blocking pool.
pub type TransactionStoreHandler = StoreHandler<TransactionStore>;

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
        let transactions = self
            .blocking("transaction store", move |store| {
                store.get_transactions_by_id(&r.transaction_ids)
            })
            .await?;
        Ok(TransactionStoreResponse {
            response: Some(Response::GetTransactionsById(GetTransactionsByIdResponse {
                transactions,
            })),
        })
    }
}

/// The service: open `basedir/transaction_store/db`, follow accepted blocks, serve RPCs.
pub async fn run(service: Service<StoreArgs>) -> anyhow::Result<()> {
    let store = TransactionStore::open(&service.settings.basedir, service.settings.args.reset())?;
    // Every replica records transactions from every accepted block.
    let subscriber = service.subscribe(&[topic::BLOCK_ACCEPT]);
    let follower = tokio::spawn(crate::block_store::follow_accepted_blocks_into(
        store.clone(),
        subscriber,
    ));
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
