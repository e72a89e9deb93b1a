//! account_history: every block and transaction that touched an address, numbered from 0 per
//! address, served by `get_account_history` (docs/protocol.md "RPC envelope and errors"; "Configuration and stores"), as the official service
//! records them ([`records`]): a block touches its signer and the sources and impacted
//! addresses of its block-level events; a transaction its payer, its payee, the contracts of
//! its operations and its events' sources and impacted addresses.
//!
//! # Forks: irreversible tables plus a replayed overlay
//! Only irreversible history is written to the record tables (`records`, `accounts` = last
//! sequence number per address, `history` = `history_index{address, seq_num}` → record id).
//! A block that is still reversible is stored whole (its `block_accepted`, with the arrival
//! order) and kept in a [`forks::ForkTree`] rooted at the LIB, whose head follows the
//! `fork-algorithm` exactly as the official state_db does. Queries without `irreversible` read
//! an in-memory overlay: the head branch's records, numbered after each address's last
//! irreversible one. So a block on a fork that loses never reaches the tables: the overlay is
//! rebuilt from the winning branch on a fork switch, and on `koinos.block.irreversible` the
//! LIB's branch is appended to the tables while the forks that do not descend from it are
//! deleted, in one durable write. The official service gets the same result from one state
//! node per block; ours keeps at most one LIB distance (60 blocks) of blocks in memory and
//! makes every sequence number permanent exactly once, in commit order.
//!
//! # Start-up and gaps
//! Before serving, the replica reads chain's head and LIB and replays the blocks it lacks from
//! block_store (committing those at or below chain's LIB); a later block whose parent is
//! unknown (missed while down or during start-up) triggers the same back-fill of its
//! ancestors (docs/design.md "Service classes").

mod follower;
pub mod forks;
pub mod records;
mod service;
mod store;

pub use follower::Follower;
pub use records::{BlockHistory, Whitelist, block_history};
pub use service::{AccountHistoryArgs, AccountHistoryHandler, SERVICE, run};
pub use store::{AccountHistory, AccountHistoryError, MAX_REQUEST_LIMIT, Result};
