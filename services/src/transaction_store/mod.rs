//! transaction_store: transaction id -> the transaction and every block (of any fork) that
//! contains it, filled from `koinos.block.accept` (docs/protocol.md "Configuration and stores"). koilib's `wait()` polls
//! `get_transactions_by_id`, then looks the containing blocks up in block_store.

mod service;
mod store;

pub use service::{TransactionStoreHandler, run};
pub use store::{Result, SERVICE, TransactionStore, TransactionStoreError};

use std::time::Duration;

use crate::mq::RpcClient;

/// Start-up catch-up from block_store (docs/design.md "Service classes"); see [`crate::block_store::catch_up_index`].
pub async fn catch_up(store: &TransactionStore, client: &RpcClient, timeout: Duration) -> u64 {
    crate::block_store::catch_up_index(store, client, timeout).await
}
