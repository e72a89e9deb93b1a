//! transaction_store: transaction id -> the transaction and every block (of any fork) that
//! contains it, filled from `koinos.block.accept` (protocol §7). koilib's `wait()` polls
//! `get_transactions_by_id`, then looks the containing blocks up in block_store.

mod catch_up;
mod service;
mod store;

pub use catch_up::catch_up;
pub use service::{BLOCK_ACCEPT, TransactionStoreHandler, follow_accepted_blocks, run};
pub use store::{Result, SERVICE, TransactionStore, TransactionStoreError};
