//! contract_meta_store: contract id -> `contract_meta_item{abi}`, written for every
//! `upload_contract` operation of every block on `koinos.block.accept` (any fork; the last
//! write wins), served by `get_contract_meta` (protocol §2, §7). koilib's
//! `Contract.fetchAbi()` reads it.
//!
//! Like transaction_store, a replica records the blocks it missed from block_store before it
//! consumes `koinos.rpc.contract_meta_store` and reports ready (design §2).

mod catch_up;
mod service;
mod store;

pub use catch_up::catch_up;
pub use service::{BLOCK_ACCEPT, ContractMetaStoreHandler, follow_accepted_blocks, run};
pub use store::{ContractMetaStore, ContractMetaStoreError, Result, SERVICE};
