//! contract_meta_store: contract id -> `contract_meta_item{abi}`, written for every
//! `upload_contract` operation of every block on `koinos.block.accept` (any fork; the last
//! write wins), served by `get_contract_meta` (docs/protocol.md "RPC envelope and errors"; "Configuration and stores"). koilib's
//! `Contract.fetchAbi()` reads it.
//!
//! Like transaction_store, a replica records the blocks it missed from block_store before it
//! consumes `koinos.rpc.contract_meta_store` and reports ready (docs/design.md "Service classes").

mod service;
mod store;

pub use service::{ContractMetaStoreHandler, run};
pub use store::{ContractMetaStore, ContractMetaStoreError, Result, SERVICE};

use std::time::Duration;

use crate::mq::RpcClient;

/// Start-up catch-up from block_store (docs/design.md "Service classes"); see [`crate::block_store::catch_up_index`].
pub async fn catch_up(store: &ContractMetaStore, client: &RpcClient, timeout: Duration) -> u64 {
    crate::block_store::catch_up_index(store, client, timeout).await
}
