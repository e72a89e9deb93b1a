//! What the node asks of its own node's services (chain, block_store) over AMQP; a trait so the
//! peer RPC and sync can be tested with a stand-in.

use std::future::Future;

use koinos_protocol::pb::koinos::block_store::BlockItem;
use koinos_protocol::pb::koinos::rpc::block_store::{
    BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightRequest, GetBlocksByIdRequest,
    block_store_request, block_store_response,
};
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetChainIdRequest, GetForkHeadsRequest, GetHeadInfoRequest,
    SubmitBlockRequest, SubmitTransactionRequest, chain_request, chain_response,
};
use koinos_protocol::{Block, Transaction};

use super::config::LOCAL_RPC_TIMEOUT;
use crate::mq::topology::service;
use crate::mq::typed::{CallError, TypedClient};
use crate::mq::{CallOptions, RpcClient};

/// The head as the chain reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub id: Vec<u8>,
    pub height: u64,
    /// Milliseconds since the epoch.
    pub time_ms: u64,
}

/// Why the chain refused a block.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Below the last irreversible block: harmless during sync.
    #[error("irreversible: {0}")]
    Irreversible(String),
    /// The block's parent is unknown (gossip ahead of our head while syncing): nobody's fault.
    #[error("unlinkable: {0}")]
    Unlinkable(String),
    /// The chain refused the block or transaction (the sender's fault).
    #[error("refused: {0}")]
    Refused(String),
    /// The call itself failed (timeout, broker): nobody's fault.
    #[error("local rpc: {0}")]
    Local(String),
}

/// The local services the node needs.
pub trait Local: Send + Sync + 'static {
    fn chain_id(&self) -> impl Future<Output = anyhow::Result<Vec<u8>>> + Send;
    fn head(&self) -> impl Future<Output = anyhow::Result<Head>> + Send;
    /// The last irreversible block (id, height).
    fn lib(&self) -> impl Future<Output = anyhow::Result<(Vec<u8>, u64)>> + Send;
    /// Ancestors of `head` from `start`, ascending, with their blocks.
    fn blocks_by_height(
        &self,
        head: Vec<u8>,
        start: u64,
        count: u32,
    ) -> impl Future<Output = anyhow::Result<Vec<BlockItem>>> + Send;
    /// True when block_store has the block.
    fn has_block(&self, id: Vec<u8>) -> impl Future<Output = anyhow::Result<bool>> + Send;
    fn submit_block(&self, block: Block) -> impl Future<Output = Result<(), SubmitError>> + Send;
    fn submit_transaction(
        &self,
        transaction: Transaction,
    ) -> impl Future<Output = Result<(), SubmitError>> + Send;
}

/// [`Local`] over koinos-mq.
#[derive(Clone)]
pub struct AmqpLocal {
    chain: TypedClient<ChainRequest, ChainResponse>,
    block_store: TypedClient<BlockStoreRequest, BlockStoreResponse>,
}

impl AmqpLocal {
    pub fn new(client: &RpcClient) -> Self {
        let options = CallOptions::timeout(LOCAL_RPC_TIMEOUT);
        Self {
            chain: TypedClient::new(client, service::CHAIN, options),
            block_store: TypedClient::new(client, service::BLOCK_STORE, options),
        }
    }

    async fn chain(
        &self,
        request: chain_request::Request,
    ) -> anyhow::Result<chain_response::Response> {
        let response = self
            .chain
            .call(&ChainRequest {
                request: Some(request),
            })
            .await?;
        response
            .response
            .ok_or_else(|| anyhow::anyhow!("empty chain response"))
    }

    async fn block_store(
        &self,
        request: block_store_request::Request,
    ) -> anyhow::Result<block_store_response::Response> {
        let response = self
            .block_store
            .call(&BlockStoreRequest {
                request: Some(request),
            })
            .await?;
        response
            .response
            .ok_or_else(|| anyhow::anyhow!("empty block_store response"))
    }

    async fn submit(&self, request: chain_request::Request) -> Result<(), SubmitError> {
        match self
            .chain
            .call(&ChainRequest {
                request: Some(request),
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError::Remote { message, .. }) => Err(classify(message)),
            Err(other) => Err(SubmitError::Local(other.to_string())),
        }
    }
}

/// The chain's refusals that are not the sender's fault.
fn classify(message: String) -> SubmitError {
    let lower = message.to_lowercase();
    if lower.contains("irreversib") {
        SubmitError::Irreversible(message)
    } else if lower.contains("unknown previous") {
        SubmitError::Unlinkable(message)
    } else {
        SubmitError::Refused(message)
    }
}

fn unexpected<T>(what: &str) -> anyhow::Result<T> {
    Err(anyhow::anyhow!("unexpected response to {what}"))
}

impl Local for AmqpLocal {
    async fn chain_id(&self) -> anyhow::Result<Vec<u8>> {
        match self
            .chain(chain_request::Request::GetChainId(GetChainIdRequest {}))
            .await?
        {
            chain_response::Response::GetChainId(r) => Ok(r.chain_id),
            _ => unexpected("get_chain_id"),
        }
    }

    async fn head(&self) -> anyhow::Result<Head> {
        match self
            .chain(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {}))
            .await?
        {
            chain_response::Response::GetHeadInfo(r) => {
                let topology = r.head_topology.unwrap_or_default();
                Ok(Head {
                    id: topology.id,
                    height: topology.height,
                    time_ms: r.head_block_time,
                })
            }
            _ => unexpected("get_head_info"),
        }
    }

    async fn lib(&self) -> anyhow::Result<(Vec<u8>, u64)> {
        match self
            .chain(chain_request::Request::GetForkHeads(GetForkHeadsRequest {}))
            .await?
        {
            chain_response::Response::GetForkHeads(r) => {
                let lib = r.last_irreversible_block.unwrap_or_default();
                Ok((lib.id, lib.height))
            }
            _ => unexpected("get_fork_heads"),
        }
    }

    async fn blocks_by_height(
        &self,
        head: Vec<u8>,
        start: u64,
        count: u32,
    ) -> anyhow::Result<Vec<BlockItem>> {
        let request = block_store_request::Request::GetBlocksByHeight(GetBlocksByHeightRequest {
            head_block_id: head,
            ancestor_start_height: start,
            num_blocks: count,
            return_block: true,
            return_receipt: false,
        });
        match self.block_store(request).await? {
            block_store_response::Response::GetBlocksByHeight(r) => Ok(r.block_items),
            _ => unexpected("get_blocks_by_height"),
        }
    }

    async fn has_block(&self, id: Vec<u8>) -> anyhow::Result<bool> {
        let request = block_store_request::Request::GetBlocksById(GetBlocksByIdRequest {
            block_ids: vec![id],
            return_block: false,
            return_receipt: false,
        });
        match self.block_store(request).await? {
            block_store_response::Response::GetBlocksById(r) => Ok(r
                .block_items
                .first()
                .is_some_and(|item| item.block_height != 0)),
            _ => unexpected("get_blocks_by_id"),
        }
    }

    async fn submit_block(&self, block: Block) -> Result<(), SubmitError> {
        self.submit(chain_request::Request::SubmitBlock(SubmitBlockRequest {
            block: Some(block),
        }))
        .await
    }

    async fn submit_transaction(&self, transaction: Transaction) -> Result<(), SubmitError> {
        self.submit(chain_request::Request::SubmitTransaction(
            SubmitTransactionRequest {
                transaction: Some(transaction),
                broadcast: true,
            },
        ))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_refusals_are_classified() {
        assert!(matches!(
            classify("block is prior to irreversibility".into()),
            SubmitError::Irreversible(_)
        ));
        assert!(matches!(
            classify("unknown previous block".into()),
            SubmitError::Unlinkable(_)
        ));
        assert!(matches!(
            classify("signature does not match".into()),
            SubmitError::Refused(_)
        ));
    }
}
