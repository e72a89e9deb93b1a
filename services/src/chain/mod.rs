//! The chain service: fork-aware state on redb, genesis, block and transaction validation and
//! application, fork choice and a native KCS-4 token (no WASM VM yet).

pub mod app;
pub mod block;
pub mod broadcasts;
pub mod builder;
pub mod context;
pub mod controller;
pub mod crypto;
pub mod devnet;
pub mod error;
pub mod fork;
pub mod genesis;
pub mod service;
pub mod state;
pub mod system_call;
pub mod token;
pub mod transaction;

pub use block::{AppliedBlock, BlockMode, BlockOutcome};
pub use controller::{Chain, Committed, zero_block_id};
pub use error::{ChainError, ChainResult};
pub use fork::{BlockInfo, ForkAlgorithm};

#[cfg(test)]
mod tests;
