//! The chain service: fork-aware state on redb, genesis, block and transaction validation and
//! application, fork choice and a native KCS-4 token (no WASM VM yet).

pub mod error;
pub mod fork;
pub mod state;
