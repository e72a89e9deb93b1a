//! The chain service: fork-aware state on redb, genesis, block and transaction validation and
//! application, fork choice, uploaded WebAssembly contracts ([`wasm`], on `koinos-vm`) and a
//! native KCS-4 token.
//!
//! # Layers
//! - [`state`]: the state database (`basedir/chain/blockchain/state.redb`): committed state at
//!   the LIB plus one delta per finalized block above it; adding a block, fork choice, commit
//!   to the LIB and pruning happen in one redb transaction (crash-safe).
//! - [`controller::Chain`]: the domain core, no messaging types. `prepare` (validate and apply
//!   a block, docs/protocol.md "Applying a block") then `commit` (finalize, fork choice, LIB =
//!   head − 60); `submit_block` does both; `apply_pending_transaction`, `read_contract`
//!   (bounded by `read-compute-bandwidth-limit`), `account_nonce`, `account_rc`,
//!   `resource_limits`, `fork_heads`, `head`, `lib`, `catch_up_block` (from a receipt's state
//!   delta, or re-executed with `verify-blocks`).
//! - [`service::ChainService`]: the `chain_request` handler (block_store `add_block` before
//!   commit, mempool checks, broadcasts of [`broadcasts`]) and the `koinos.block.accept`
//!   follower ([`service::follow_accepted_blocks`]: a block another chain instance applied is
//!   applied here as `submit_block` would, so instances on one broker stay in sync);
//!   [`app`]: options and start-up (subscribe, catch up from block_store, follow, serve).
//! - [`error`]: codes, and messages worded as the official chain's, with their `${name}`
//!   parameters in the error data.
//! - [`token`]: the native KCS-4 token; [`devnet::genesis`] builds a devnet genesis for it;
//!   [`builder`] builds and signs transactions and blocks exactly as the chain checks them.
//!
//! # Deterministic state merkle root
//! A block's state merkle root covers only its delta (docs/protocol.md "Data formats"): for
//! each written key in bytewise order of its serialized `database_key{space, key}`, the leaves
//! sha256(key) and sha256(value, or "" when removed); pairs hash as sha256(left ‖ right), an
//! odd last node is promoted; the root is a sha2-256 multihash. The delta includes the block's
//! `head_block` metadata (the whole serialized block, as the official chain stores it), nonces
//! and contract writes.
//! The genesis root (id 0x1220‖0³², height 0, timestamp 0) covers the genesis entries plus
//! metadata `chain_id`. The same delta is published as the block receipt's
//! `state_delta_entries`, so catch-up can rebuild and verify it.
//!
//! # Contracts
//! - Uploaded bytecode runs in [`wasm`] (`koinos-vm`, metered in the official VM's ticks) with
//!   the host API of [`wasm`]'s thunks: objects, events, logs, hashing, signatures, nested
//!   calls, authority (an account's contract decides through its `authorize` entry point when
//!   its metadata says so), system-call overrides (`set_system_call` dispatches to a contract
//!   or another thunk). A genesis without `compute_bandwidth_registry` charges VM ticks only.
//! - The native KCS-4 token ([`token`]) runs wherever genesis stores its bytecode marker
//!   (the devnet default until the devnet installs the WASM token).
//! - `upload_contract` stores bytecode in system space 2 and `contract_metadata_object` in
//!   space 3, as the official chain does (the ABI is not state: contract_meta_store indexes it).
//! - `invoke_system_call` (the RPC) serves the subset in [`system_call`].
//! - Resources and RC are metered as the official chain meters them ([`resources`]).
//! - Fork choice: [`fork`]; with `pob`, the double-production rule follows docs/protocol.md
//!   "Fork choice" literally (the head is excluded, the other heads, including the new block,
//!   compete with its parent).

pub mod app;
pub mod block;
pub mod broadcasts;
pub mod builder;
pub mod context;
pub mod controller;
pub mod devnet;
pub mod error;
pub mod fork;
pub mod genesis;
pub mod operation;
pub mod resources;
pub mod service;
pub mod state;
pub mod system_call;
pub mod token;
pub mod transaction;
pub mod wasm;

pub use block::{AppliedBlock, BlockMode, BlockOutcome};
pub use controller::{Chain, Committed, zero_block_id};
pub use error::{ChainError, ChainResult};
pub use fork::{BlockInfo, ForkAlgorithm};

#[cfg(test)]
mod tests;
