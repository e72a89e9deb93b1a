//! mempool: the pending transactions of every fork, in memory (docs/protocol.md "Mempool").
//!
//! [`Mempool`] holds one pending set per accepted block (a fork tree mirroring
//! `koinos.block.accept`), fed by `koinos.transaction.accept`, trimmed by
//! `koinos.transaction.fail`, expiry and `koinos.block.irreversible`. It is pure logic with
//! explicit time, unit-tested without a broker.

mod forks;
mod pending;
mod service;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod tests;

pub use forks::{BlockOutcome, MAX_REQUEST_LIMIT, Mempool};
pub use service::{
    MempoolArgs, MempoolHandler, PRUNE_INTERVAL, SharedMempool, follow_broadcasts, handle_request,
    now_ms, on_broadcast, run,
};

/// Service name: RPC queue `koinos.rpc.mempool`.
pub const SERVICE: &str = crate::mq::topology::service::MEMPOOL;
/// Default `transaction-expiration`: seconds a pending transaction lives.
pub const DEFAULT_TRANSACTION_EXPIRATION_SECS: u64 = 120;

/// Mempool failures; texts follow the official service where it has one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MempoolError {
    #[error("transaction would exceed maximum resources for account: {}", bs58::encode(.0).into_string())]
    ExceedsResources(Vec<u8>),
    #[error("cannot insert duplicate transaction")]
    DuplicateTransaction,
    #[error("transaction nonce conflict - account: {}, nonce: {nonce}", bs58::encode(.account).into_string())]
    NonceConflict { account: Vec<u8>, nonce: u64 },
    #[error("nonce is not a serialized value_type")]
    InvalidNonce,
    #[error("transaction is missing its id or header")]
    MissingTransaction,
    #[error("block is missing its id or header")]
    MissingBlock,
    #[error("requested too many pending transactions. max: {MAX_REQUEST_LIMIT}")]
    TooManyRequested,
    #[error("cannot {0} from an unknown block")]
    UnknownBlock(&'static str),
}

/// Serialized `value_type{uint64_value: nonce}` (the `get_pending_nonce` answer).
pub use koinos_protocol::nonce::encode_nonce;
