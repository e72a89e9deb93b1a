//! mempool over AMQP: the `koinos.rpc.mempool` handler, the broadcast follower (accept, fail,
//! block accept and irreversibility, expiry every second) and readiness after one expiration
//! window (docs/design.md "Service classes": only then is the pending set complete).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use koinos_protocol::broadcast::{
    BlockAccepted, BlockIrreversible, TransactionAccepted, TransactionFailed,
};
use koinos_protocol::rpc::mempool::{
    CheckAccountNonceResponse, CheckPendingAccountResourcesResponse, GetPendingNonceResponse,
    GetPendingTransactionCountResponse, GetPendingTransactionsByIdResponse,
    GetPendingTransactionsResponse, GetReservedAccountRcResponse, MempoolRequest, MempoolResponse,
    mempool_request::Request, mempool_response::Response,
};
use prost::Message;

use super::{DEFAULT_TRANSACTION_EXPIRATION_SECS, Mempool, MempoolError, SERVICE, encode_nonce};
use crate::mq::topology::topic::{
    BLOCK_ACCEPT, BLOCK_IRREVERSIBLE, MEMPOOL_ACCEPT, MEMPOOL_BLOCK_ACCEPTED, TRANSACTION_ACCEPT,
    TRANSACTION_FAIL,
};
use crate::mq::typed::{Handler, RpcError};
use crate::mq::{Broadcaster, Subscriber};
use crate::runtime::Service;

/// How often expired transactions are pruned.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(1);

/// The mempool's own options (official names), plus how long to wait before reporting ready.
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MempoolArgs {
    /// Seconds a pending transaction lives [default: 120]
    #[arg(short = 'e', long)]
    pub transaction_expiration: Option<u64>,
    /// Fork resolution algorithm: fifo, block-time or pob [default: fifo]. Accepted for
    /// compatibility: the head follows chain's choice (`block_accepted.head`).
    #[arg(short = 'f', long)]
    pub fork_algorithm: Option<String>,
    /// Seconds of listening before /readyz reports ready (the pending set is complete only
    /// after one expiration window); shorten for devnets and tests [default: transaction-expiration]
    #[arg(long)]
    pub readiness_delay: Option<u64>,
}

impl MempoolArgs {
    pub fn transaction_expiration(&self) -> Duration {
        Duration::from_secs(
            self.transaction_expiration
                .unwrap_or(DEFAULT_TRANSACTION_EXPIRATION_SECS),
        )
    }

    pub fn readiness_delay(&self) -> Duration {
        self.readiness_delay
            .map_or(self.transaction_expiration(), Duration::from_secs)
    }

    /// Rejects an unknown fork algorithm, as the official service does.
    pub fn validate(&self) -> anyhow::Result<()> {
        match self.fork_algorithm.as_deref() {
            None | Some("fifo" | "block-time" | "pob") => Ok(()),
            Some(other) => anyhow::bail!("{other} is not a valid fork algorithm"),
        }
    }
}

/// The mempool shared by the RPC handler and the broadcast follower.
#[derive(Clone, Default)]
pub struct SharedMempool(Arc<Mutex<Mempool>>);

impl SharedMempool {
    pub fn lock(&self) -> MutexGuard<'_, Mempool> {
        // A panic while holding the lock leaves a consistent-enough pool to keep serving.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Answers `mempool_request`s from the in-memory pool.
#[derive(Clone)]
pub struct MempoolHandler {
    pool: SharedMempool,
}

impl MempoolHandler {
    pub fn new(pool: SharedMempool) -> Self {
        Self { pool }
    }
}

impl Handler for MempoolHandler {
    type Request = MempoolRequest;
    type Response = MempoolResponse;

    async fn handle(&self, request: MempoolRequest) -> Result<MempoolResponse, RpcError> {
        let request = request
            .request
            .ok_or_else(|| RpcError::new("unknown request"))?;
        let response =
            handle_request(&self.pool.lock(), request).map_err(|e| RpcError::new(e.to_string()))?;
        Ok(MempoolResponse {
            response: Some(response),
        })
    }
}

/// One request against the pool.
pub fn handle_request(pool: &Mempool, request: Request) -> Result<Response, MempoolError> {
    Ok(match request {
        Request::CheckPendingAccountResources(r) => {
            Response::CheckPendingAccountResources(CheckPendingAccountResourcesResponse {
                success: pool.check_pending_account_resources(
                    &r.payer,
                    r.max_payer_rc,
                    r.rc_limit,
                    r.block_id.as_deref(),
                )?,
            })
        }
        Request::GetPendingTransactions(r) => {
            Response::GetPendingTransactions(GetPendingTransactionsResponse {
                pending_transactions: pool.pending_transactions(r.limit, r.block_id.as_deref())?,
            })
        }
        Request::CheckAccountNonce(r) => Response::CheckAccountNonce(CheckAccountNonceResponse {
            success: pool.check_account_nonce(&r.payee, &r.nonce, r.block_id.as_deref())?,
        }),
        Request::GetReservedAccountRc(r) => {
            Response::GetReservedAccountRc(GetReservedAccountRcResponse {
                rc: pool.reserved_account_rc(&r.account),
            })
        }
        Request::GetPendingNonce(r) => Response::GetPendingNonce(GetPendingNonceResponse {
            nonce: pool
                .pending_nonce(&r.payee, r.block_id.as_deref())?
                .map(encode_nonce)
                .unwrap_or_default(),
        }),
        Request::GetPendingTransactionCount(r) => {
            Response::GetPendingTransactionCount(GetPendingTransactionCountResponse {
                count: pool.pending_transaction_count(&r.payee, r.block_id.as_deref())?,
            })
        }
        Request::GetPendingTransactionsById(r) => {
            Response::GetPendingTransactionsById(GetPendingTransactionsByIdResponse {
                pending_transactions: pool
                    .pending_transactions_by_id(&r.transaction_ids, r.block_id.as_deref())?,
            })
        }
        Request::Reserved(r) => Response::Reserved(r),
    })
}

/// Applies one broadcast to the pool; returns the broadcasts to publish in response.
pub fn on_broadcast(
    pool: &mut Mempool,
    topic: &str,
    body: &[u8],
    now_ms: u64,
) -> Vec<(&'static str, Vec<u8>)> {
    fn parse<M: Message + Default>(topic: &str, body: &[u8]) -> Option<M> {
        M::decode(body)
            .inspect_err(|e| tracing::warn!(topic, error = %e, "cannot parse broadcast"))
            .ok()
    }
    match topic {
        TRANSACTION_ACCEPT => {
            let Some(accepted) = parse::<TransactionAccepted>(topic, body) else {
                return Vec::new();
            };
            match pool.add_transaction(&accepted, now_ms) {
                Ok(mempool_accepted) => {
                    vec![(MEMPOOL_ACCEPT, mempool_accepted.encode_to_vec())]
                }
                Err(e) => {
                    tracing::info!(error = %e, "could not add pending transaction");
                    Vec::new()
                }
            }
        }
        BLOCK_ACCEPT => {
            if let Some(accepted) = parse::<BlockAccepted>(topic, body)
                && let Err(e) = pool.apply_block(&accepted)
            {
                tracing::warn!(error = %e, "could not process accepted block");
            }
            // Consumers (block producer, p2p) wait for this to know the pool has the block.
            vec![(MEMPOOL_BLOCK_ACCEPTED, body.to_vec())]
        }
        TRANSACTION_FAIL => {
            if let Some(failed) = parse::<TransactionFailed>(topic, body) {
                pool.remove_transactions(&[failed.id]);
            }
            Vec::new()
        }
        BLOCK_IRREVERSIBLE => {
            if let Some(topology) = parse::<BlockIrreversible>(topic, body).and_then(|b| b.topology)
            {
                pool.apply_irreversible(&topology);
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Follows the mempool's broadcasts and prunes expired transactions every second, until the
/// subscription ends (shutdown).
pub async fn follow_broadcasts(
    pool: SharedMempool,
    mut subscriber: Subscriber,
    broadcaster: Broadcaster,
    expiration: Duration,
) {
    let mut prune = tokio::time::interval(PRUNE_INTERVAL);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = subscriber.recv() => {
                let Some(broadcast) = received else { return };
                let outgoing =
                    on_broadcast(&mut pool.lock(), &broadcast.topic, &broadcast.body, now_ms());
                for (topic, body) in outgoing {
                    if let Err(e) = broadcaster.publish(topic, &body).await {
                        tracing::warn!(topic, error = %e, "cannot publish");
                    }
                }
            }
            _ = prune.tick() => {
                let pruned = pool.lock().prune(expiration.as_millis() as u64, now_ms());
                if pruned > 0 {
                    tracing::info!(pruned, "pruned expired transactions");
                }
            }
        }
    }
}

/// The service: follow broadcasts, serve RPCs at once, report ready after the readiness delay.
pub async fn run(service: Service<MempoolArgs>) -> anyhow::Result<()> {
    let args = &service.settings.args;
    args.validate()?;
    let (expiration, readiness_delay) = (args.transaction_expiration(), args.readiness_delay());
    tracing::info!(?expiration, ?readiness_delay, "starting mempool");
    let pool = SharedMempool::default();
    let subscriber = service.subscribe(&[
        TRANSACTION_ACCEPT,
        TRANSACTION_FAIL,
        BLOCK_ACCEPT,
        BLOCK_IRREVERSIBLE,
    ]);
    let follower = tokio::spawn(follow_broadcasts(
        pool.clone(),
        subscriber,
        service.broadcaster(),
        expiration,
    ));
    let readiness = service.readiness.clone();
    let ready = tokio::spawn(async move {
        tokio::time::sleep(readiness_delay).await;
        tracing::info!("listened for one expiration window: ready");
        readiness.set(true);
    });
    let settings = &service.settings;
    let served = crate::mq::typed::serve_queue(
        &service.conn,
        SERVICE,
        &settings.rpc_queue,
        settings.jobs,
        MempoolHandler::new(pool),
    )
    .await;
    ready.abort();
    follower.abort();
    Ok(served?)
}
