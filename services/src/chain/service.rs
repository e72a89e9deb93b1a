//! The `chain_request` handler: the [`Chain`] core plus the calls to block_store and mempool
//! and the broadcasts, over the messaging runtime.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use koinos_protocol::broadcast::BlockAccepted;
use koinos_protocol::pb::koinos::protocol::{Block, Transaction};
use koinos_protocol::rpc::block_store::{
    AddBlockRequest, BlockStoreRequest, BlockStoreResponse, block_store_request,
    block_store_response,
};
use koinos_protocol::rpc::chain::{chain_request::Request, chain_response::Response, *};
use koinos_protocol::rpc::mempool::{
    CheckAccountNonceRequest, CheckPendingAccountResourcesRequest, GetPendingNonceRequest,
    GetPendingTransactionCountRequest, MempoolRequest, MempoolResponse, mempool_request,
    mempool_response,
};
use prost::Message;
use tokio::sync::Mutex;

use super::block::{BlockMode, BlockOutcome};
use super::broadcasts::{self, Outgoing, error_status};
use super::controller::{Chain, topology};
use super::error::{ChainError, ChainResult, code};
use super::system_call;
use super::transaction::{check_required_fields, nonce_account};
use crate::mq::topology::service;
use crate::mq::typed::{Handler, RpcError};
use crate::mq::{Broadcaster, CallOptions, RpcClient, Subscriber};

/// Timeouts of the chain's own calls (docs/protocol.md "AMQP topology").
pub const MEMPOOL_TIMEOUT: Duration = Duration::from_millis(750);
pub const ADD_BLOCK_TIMEOUT: Duration = Duration::from_millis(1500);

/// `chain` options that shape request handling.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// `pending-transaction-limit` (10).
    pub pending_transaction_limit: u64,
    /// `disable-pending-transaction-limit`.
    pub disable_pending_transaction_limit: bool,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            pending_transaction_limit: 10,
            disable_pending_transaction_limit: false,
        }
    }
}

/// The chain service: one writer at a time over the chain core; clones share it (the RPC
/// handler and the `koinos.block.accept` follower).
#[derive(Clone)]
pub struct ChainService {
    chain: Arc<Mutex<Chain>>,
    client: RpcClient,
    broadcaster: Broadcaster,
    options: ServiceOptions,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `-1002` "missing expected field: <name>" when `value` is empty, as the official chain answers
/// `read_contract`, `get_account_nonce` and `get_account_rc` without their argument.
fn require(value: &[u8], name: &str) -> ChainResult<()> {
    if value.is_empty() {
        return Err(ChainError::missing_field(
            "missing expected field: ${f}",
            "f",
            name,
        ));
    }
    Ok(())
}

/// A `-1008` (RPC failure) error with `message`.
fn rpc_failure(message: impl Into<String>) -> ChainError {
    ChainError::new(code::RPC_FAILURE, message)
}

/// A call that got no usable answer (timeout, broker, undecodable reply).
fn call_failure(what: &str, e: impl std::fmt::Display) -> ChainError {
    rpc_failure(format!("{what} failed: {e}"))
}

/// "received error from <service>: <error_status as JSON>", as the official chain reports an
/// error answer (the status's fields in the data parameter `e`).
fn error_answer(service: &str, status: &koinos_protocol::rpc::ErrorStatus) -> ChainError {
    let mut fields = serde_json::Map::new();
    if !status.data.is_empty() {
        fields.insert("data".into(), status.data.clone().into());
    }
    fields.insert("message".into(), status.message.clone().into());
    rpc_failure(format!("received error from {service}: ${{e}}"))
        .with_param("e", serde_json::Value::Object(fields))
}

impl ChainService {
    pub fn new(
        chain: Chain,
        client: RpcClient,
        broadcaster: Broadcaster,
        options: ServiceOptions,
    ) -> Self {
        Self {
            chain: Arc::new(Mutex::new(chain)),
            client,
            broadcaster,
            options,
        }
    }

    /// Answers one request; a failure becomes an `error` response with code, data and details.
    pub async fn respond(&self, request: Request) -> Response {
        match self.dispatch(request).await {
            Ok(response) => response,
            Err(e) => Response::Error(error_status(&e)),
        }
    }

    async fn dispatch(&self, request: Request) -> ChainResult<Response> {
        Ok(match request {
            Request::Reserved(r) => Response::Reserved(r),
            Request::SubmitBlock(r) => {
                let block = r.block.unwrap_or_default();
                let receipt = self.apply_block(&block, BlockMode::Submit).await?.0;
                Response::SubmitBlock(SubmitBlockResponse { receipt })
            }
            Request::ProposeBlock(r) => {
                let block = r.block.unwrap_or_default();
                let (receipt, failed_transaction_indices) =
                    self.apply_block(&block, BlockMode::Propose).await?;
                Response::ProposeBlock(ProposeBlockResponse {
                    receipt,
                    failed_transaction_indices,
                })
            }
            Request::SubmitTransaction(r) => {
                let tx = r.transaction.unwrap_or_default();
                let receipt = self.submit_transaction(&tx, r.broadcast).await?;
                Response::SubmitTransaction(SubmitTransactionResponse {
                    receipt: Some(receipt),
                })
            }
            Request::GetHeadInfo(_) => {
                let chain = self.chain.lock().await;
                let head = chain.head();
                Response::GetHeadInfo(GetHeadInfoResponse {
                    head_topology: Some(topology(head)),
                    last_irreversible_block: chain.lib().height,
                    head_state_merkle_root: head.state_merkle_root.clone(),
                    head_block_time: head.timestamp,
                })
            }
            Request::GetChainId(_) => {
                let chain_id = self.chain.lock().await.chain_id().to_vec();
                Response::GetChainId(GetChainIdResponse { chain_id })
            }
            Request::GetForkHeads(_) => {
                let chain = self.chain.lock().await;
                Response::GetForkHeads(GetForkHeadsResponse {
                    last_irreversible_block: Some(topology(chain.lib())),
                    fork_heads: chain.fork_heads().iter().map(topology).collect(),
                })
            }
            Request::ReadContract(r) => {
                require(&r.contract_id, "contract_id")?;
                let (result, logs) = self.chain.lock().await.read_contract(
                    &r.contract_id,
                    r.entry_point,
                    &r.args,
                )?;
                Response::ReadContract(ReadContractResponse { result, logs })
            }
            Request::GetAccountNonce(r) => {
                require(&r.account, "account")?;
                let nonce = self.chain.lock().await.account_nonce(&r.account)?;
                Response::GetAccountNonce(GetAccountNonceResponse { nonce })
            }
            Request::GetAccountRc(r) => {
                // The official chain names this field `payer`.
                require(&r.account, "payer")?;
                let rc = self.chain.lock().await.account_rc(&r.account)?;
                Response::GetAccountRc(GetAccountRcResponse { rc })
            }
            Request::GetResourceLimits(_) => {
                let limits = self.chain.lock().await.resource_limits()?;
                Response::GetResourceLimits(GetResourceLimitsResponse {
                    resource_limit_data: Some(limits),
                })
            }
            Request::InvokeSystemCall(r) => {
                let value = system_call::invoke(&*self.chain.lock().await, &r)?;
                Response::InvokeSystemCall(InvokeSystemCallResponse { value })
            }
        })
    }

    /// `submit_block` / `propose_block`: validate and apply, store in block_store, commit,
    /// broadcast. Returns the receipt (none if known) and a proposal's failed indices.
    async fn apply_block(
        &self,
        block: &Block,
        mode: BlockMode,
    ) -> ChainResult<(Option<koinos_protocol::BlockReceipt>, Vec<u32>)> {
        let mut chain = self.chain.lock().await;
        let now = now_ms();
        let applied = match chain.prepare(block, now, mode) {
            Ok(BlockOutcome::Applied(applied)) => applied,
            Ok(BlockOutcome::Known) => return Ok((None, Vec::new())),
            Ok(BlockOutcome::FailedTransactions(indices)) => {
                let failed = indices
                    .iter()
                    .filter_map(|i| block.transactions.get(*i as usize))
                    .map(|tx| broadcasts::transaction_failed(&tx.id))
                    .collect();
                self.publish(failed).await;
                return Ok((None, indices));
            }
            Err(e) => {
                if let Some(id) = &e.transaction_id {
                    self.publish(vec![broadcasts::transaction_failed(id)]).await;
                }
                return Err(e);
            }
        };
        self.add_block(&applied.block, &applied.receipt)
            .await
            .map_err(ChainError::with_receipt_logs)?;
        let committed = chain.commit(*applied)?;
        drop(chain);
        tracing::info!(
            height = committed.receipt.height,
            id = %format!("0x{}", hex::encode(&committed.block.id)),
            transactions = committed.block.transactions.len(),
            head = committed.is_head,
            "block applied"
        );
        self.publish(broadcasts::block_broadcasts(&committed, now))
            .await;
        Ok((Some(committed.receipt), Vec::new()))
    }

    async fn add_block(
        &self,
        block: &Block,
        receipt: &koinos_protocol::BlockReceipt,
    ) -> ChainResult<()> {
        let request = BlockStoreRequest {
            request: Some(block_store_request::Request::AddBlock(AddBlockRequest {
                block_to_add: Some(block.clone()),
                receipt_to_add: Some(receipt.clone()),
            })),
        };
        let reply = self
            .client
            .call(
                service::BLOCK_STORE,
                &request.encode_to_vec(),
                CallOptions::timeout(ADD_BLOCK_TIMEOUT),
            )
            .await
            .map_err(|e| call_failure("block_store.add_block", e))?;
        match BlockStoreResponse::decode(reply.as_slice())
            .map_err(|e| call_failure("block_store.add_block", e))?
            .response
        {
            Some(block_store_response::Response::AddBlock(_)) => Ok(()),
            Some(block_store_response::Response::Error(e)) => Err(error_answer("block store", &e)),
            _ => Err(rpc_failure("unexpected response when submitting block")),
        }
    }

    async fn mempool(
        &self,
        request: mempool_request::Request,
    ) -> ChainResult<mempool_response::Response> {
        let body = MempoolRequest {
            request: Some(request),
        }
        .encode_to_vec();
        let reply = self
            .client
            .call(
                service::MEMPOOL,
                &body,
                CallOptions::timeout(MEMPOOL_TIMEOUT),
            )
            .await
            .map_err(|e| call_failure("mempool call", e))?;
        match MempoolResponse::decode(reply.as_slice())
            .map_err(|e| call_failure("mempool call", e))?
            .response
        {
            Some(mempool_response::Response::Error(e)) => Err(error_answer("mempool", &e)),
            Some(response) => Ok(response),
            None => Err(rpc_failure("received unexpected response from mempool")),
        }
    }

    /// The four mempool checks of docs/protocol.md "Transaction validation"; returns the
    /// pending nonce if there is one.
    async fn mempool_checks(
        &self,
        tx: &Transaction,
        account_rc: u64,
    ) -> ChainResult<Option<Vec<u8>>> {
        use mempool_request::Request as M;
        use mempool_response::Response as R;
        let header = tx.header.clone().unwrap_or_default();
        let payee = nonce_account(&header);
        let (resources, nonce, pending_nonce, count) = tokio::join!(
            self.mempool(M::CheckPendingAccountResources(
                CheckPendingAccountResourcesRequest {
                    payer: header.payer.clone(),
                    max_payer_rc: account_rc,
                    rc_limit: header.rc_limit,
                    block_id: None,
                }
            )),
            self.mempool(M::CheckAccountNonce(CheckAccountNonceRequest {
                payee: payee.clone(),
                nonce: header.nonce.clone(),
                block_id: None,
            })),
            self.mempool(M::GetPendingNonce(GetPendingNonceRequest {
                payee: payee.clone(),
                block_id: None
            })),
            self.mempool(M::GetPendingTransactionCount(
                GetPendingTransactionCountRequest {
                    payee,
                    block_id: None
                }
            )),
        );
        // Read in the official chain's order, each answer of the expected kind.
        let unexpected = || rpc_failure("received unexpected response from mempool");
        let R::CheckPendingAccountResources(resources) = resources? else {
            return Err(unexpected());
        };
        if !resources.success {
            return Err(ChainError::new(
                code::INSUFFICIENT_RC,
                "insufficient pending account resources",
            ));
        }
        let R::CheckAccountNonce(nonce) = nonce? else {
            return Err(unexpected());
        };
        if !nonce.success {
            return Err(ChainError::new(
                code::INVALID_NONCE,
                "invalid account nonce",
            ));
        }
        let R::GetPendingNonce(pending_nonce) = pending_nonce? else {
            return Err(unexpected());
        };
        if !self.options.disable_pending_transaction_limit {
            let R::GetPendingTransactionCount(count) = count? else {
                return Err(unexpected());
            };
            if count.count >= self.options.pending_transaction_limit {
                return Err(ChainError::new(
                    code::PENDING_TRANSACTION_LIMIT_EXCEEDED,
                    "pending transaction limit exceeded",
                ));
            }
        }
        Ok(Some(pending_nonce.nonce).filter(|nonce| !nonce.is_empty()))
    }

    async fn submit_transaction(
        &self,
        tx: &Transaction,
        broadcast: bool,
    ) -> ChainResult<koinos_protocol::TransactionReceipt> {
        check_required_fields(tx)?;
        let account_rc = self
            .chain
            .lock()
            .await
            .account_rc(&tx.header.clone().unwrap_or_default().payer)?;
        let pending_nonce = if broadcast {
            self.mempool_checks(tx, account_rc).await?
        } else {
            None
        };
        let chain = self.chain.lock().await;
        let applied = chain.apply_pending_transaction(tx, pending_nonce.as_deref())?;
        if let Some(error) = applied.reversion {
            // The official chain rethrows the reversion itself: its code, message and data,
            // with the receipt's logs.
            return Err(error.with_logs(applied.receipt.logs.clone()));
        }
        let head_height = chain.head().height;
        drop(chain);
        if broadcast {
            self.publish(vec![broadcasts::transaction_accepted(
                tx,
                &applied.receipt,
                applied.system,
                head_height,
            )])
            .await;
        }
        Ok(applied.receipt)
    }

    async fn publish(&self, messages: Vec<Outgoing>) {
        for message in messages {
            if let Err(e) = self
                .broadcaster
                .publish(&message.topic, &message.payload)
                .await
            {
                tracing::warn!(topic = message.topic, error = %e, "broadcast failed");
            }
        }
    }

    /// Applies a block from a `koinos.block.accept` broadcast exactly as `submit_block` would
    /// (stored in block_store, committed, broadcast again), as the official chain does: a
    /// known block, such as one this chain applied itself, is a no-op. Returns whether the
    /// block was new.
    pub async fn apply_accepted(&self, accepted: BlockAccepted) -> ChainResult<bool> {
        let Some(block) = accepted.block else {
            return Ok(false);
        };
        let (receipt, _) = self.apply_block(&block, BlockMode::Submit).await?;
        Ok(receipt.is_some())
    }

    /// Locks the chain core (catch-up and tests).
    pub async fn chain(&self) -> tokio::sync::MutexGuard<'_, Chain> {
        self.chain.lock().await
    }
}

/// Applies every block of `koinos.block.accept` this chain has not seen (blocks applied by
/// another chain instance on the same broker) until the subscription ends. A block that
/// cannot be applied is logged and skipped, as the official chain does.
pub async fn follow_accepted_blocks(service: ChainService, mut subscriber: Subscriber) {
    while let Some(broadcast) = subscriber.recv().await {
        let accepted = match BlockAccepted::decode(broadcast.body.as_slice()) {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "could not parse block accepted broadcast");
                continue;
            }
        };
        let height = accepted
            .block
            .as_ref()
            .and_then(|b| b.header.as_ref())
            .map_or(0, |h| h.height);
        match service.apply_accepted(accepted).await {
            Ok(true) => tracing::debug!(height, "applied a block accepted elsewhere"),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                height,
                code = e.code,
                error = %e,
                "error handling block broadcast"
            ),
        }
    }
}

impl Handler for ChainService {
    type Request = ChainRequest;
    type Response = ChainResponse;

    async fn handle(&self, request: ChainRequest) -> Result<ChainResponse, RpcError> {
        let Some(request) = request.request else {
            return Err(RpcError::new("unknown request"));
        };
        Ok(ChainResponse {
            response: Some(self.respond(request).await),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_is_reported_with_its_status_as_json() {
        let status = koinos_protocol::rpc::ErrorStatus {
            message: "boom".into(),
            data: "trace".into(),
            details: vec![],
        };
        let error = error_answer("mempool", &status);
        assert_eq!(error.code, code::RPC_FAILURE);
        assert_eq!(
            error.message,
            r#"received error from mempool: {"data":"trace","message":"boom"}"#
        );
        assert_eq!(
            error.data_json(),
            r#"{"code":-1008,"e":{"data":"trace","message":"boom"}}"#
        );
    }
}
