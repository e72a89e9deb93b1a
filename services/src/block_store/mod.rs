//! block_store: every accepted block of every fork, by id, with its full receipt; ancestors by
//! height through the `previous_block_ids` skip list (docs/protocol.md "RPC envelope and errors"; "Configuration and stores").
//!
//! Blocks arrive by `add_block` (from chain, before it accepts a block) and by the
//! `koinos.block.accept` broadcast (every replica sees every block). Records live in redb
//! (`basedir/block_store/db`), each write one durable transaction.

mod catch_up;
mod index;
mod pager;
mod raw;
mod service;
mod skip_list;
mod store;
#[cfg(test)]
mod tests;

pub use catch_up::{CATCH_UP_TIMEOUT, catch_up, catch_up_start, target_head};
pub use index::{BlockIndex, catch_up_index, follow_accepted_blocks_into};
pub use pager::{BlockPager, PageError};
pub use service::{BlockStoreHandler, follow_accepted_blocks, handle_request, run, serve};
pub use skip_list::{previous_height_index, previous_heights};
pub use store::{
    BLOCKS, BlockStore, BlockStoreError, MAX_BLOCKS_PER_REQUEST, Result, SERVICE, ZERO_BLOCK_ID,
};
