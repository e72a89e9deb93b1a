//! contract_meta_store over AMQP: the `koinos.rpc.contract_meta_store` handler and the service
//! (it follows `koinos.block.accept` with [`crate::block_store::follow_accepted_blocks_into`]).

use std::time::Duration;

use koinos_protocol::rpc::contract_meta_store::{
    ContractMetaStoreRequest, ContractMetaStoreResponse, GetContractMetaResponse,
    contract_meta_store_request::Request, contract_meta_store_response::Response,
};

use super::ContractMetaStore;
use crate::mq::topology::topic;
use crate::mq::typed::{Handler, RpcError};
use crate::runtime::Service;
use crate::storage::{StoreArgs, StoreHandler};

/// Answers `contract_meta_store_request`s. Disk work runs on the blocking pool.
pub type ContractMetaStoreHandler = StoreHandler<ContractMetaStore>;

impl Handler for ContractMetaStoreHandler {
    type Request = ContractMetaStoreRequest;
    type Response = ContractMetaStoreResponse;

    async fn handle(
        &self,
        request: ContractMetaStoreRequest,
    ) -> Result<ContractMetaStoreResponse, RpcError> {
        let Some(Request::GetContractMeta(r)) = request.request else {
            return Err(RpcError::new("unknown request"));
        };
        let meta = self
            .blocking("contract meta store", move |store| {
                store.get_contract_meta(&r.contract_id)
            })
            .await?;
        Ok(ContractMetaStoreResponse {
            response: Some(Response::GetContractMeta(GetContractMetaResponse { meta })),
        })
    }
}

/// The service: open `basedir/contract_meta_store/db`, catch up, follow accepted blocks,
/// serve RPCs.
pub async fn run(service: Service<StoreArgs>) -> anyhow::Result<()> {
    let store = ContractMetaStore::open(&service.settings.basedir, service.settings.args.reset())?;
    // Bound before the catch-up reads its target, so no later block is missed; the blocks
    // broadcast meanwhile wait in the queue and are applied after the catch-up, in order
    // (the last upload wins).
    let subscriber = service.subscribe(&[topic::BLOCK_ACCEPT]);
    if let Err(e) = subscriber.wait_bound(Duration::from_secs(10)).await {
        tracing::warn!(error = %e, "koinos.block.accept not bound yet");
    }
    // Not ready, and not consuming the RPC queue, until the missed blocks are recorded.
    super::catch_up(
        &store,
        &service.client(),
        crate::block_store::CATCH_UP_TIMEOUT,
    )
    .await;
    let follower = tokio::spawn(crate::block_store::follow_accepted_blocks_into(
        store.clone(),
        subscriber,
    ));
    let served = service.serve(ContractMetaStoreHandler::new(store)).await;
    follower.abort();
    served
}
