//! The account history on redb: irreversible records in tables, reversible blocks kept whole
//! and replayed into an in-memory overlay of the head's branch (see the module docs).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use koinos_protocol::BlockTopology;
use koinos_protocol::broadcast::BlockAccepted;
use koinos_protocol::pb::koinos::account_history::{
    AccountMetadata, HistoryIndex, HistoryRecord, history_record::Record,
};
use koinos_protocol::rpc::account_history::{
    AccountHistoryEntry, GetAccountHistoryRequest, account_history_entry,
};
use prost::Message;

use super::forks::{ForkTree, Link};
use super::records::{BlockError, BlockHistory, Whitelist, block_history};
use crate::block_store::ZERO_BLOCK_ID;
use crate::chain::fork::{BlockInfo, ForkAlgorithm};
use crate::storage::{StorageError, Store, Table, WriteTxn};

/// Most records one `get_account_history` may ask for.
pub const MAX_REQUEST_LIMIT: u64 = 500;

/// Record id (block or transaction id) -> `history_record` (irreversible).
const RECORDS: Table<HistoryRecord> = Table::new("records");
/// Address -> `account_metadata{seq_num}`, the address's last irreversible sequence number.
const ACCOUNTS: Table<AccountMetadata> = Table::new("accounts");
/// Serialized `history_index{address, seq_num}` -> the record id.
const HISTORY: Table<RecordId> = Table::new("history");
/// Reversible block id -> the `block_accepted` it arrived in.
const PENDING: Table<BlockAccepted> = Table::new("pending");
/// [`KEY`] -> the reversible block ids in arrival order (fifo fork choice replays them).
const PENDING_INDEX: Table<PendingIndex> = Table::new("pending_index");
/// [`KEY`] -> the LIB.
const LIB: Table<BlockTopology> = Table::new("lib");
const KEY: &[u8] = &[0x01];

#[derive(Clone, PartialEq, Message)]
struct RecordId {
    #[prost(bytes = "vec", tag = "1")]
    id: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct PendingIndex {
    #[prost(bytes = "vec", repeated, tag = "1")]
    ids: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountHistoryError {
    /// The official message of `request_limit_exception`.
    #[error("request limit exceeded")]
    RequestLimitExceeded,
    #[error("unable to find account history record")]
    UnknownRecord,
    #[error(transparent)]
    InvalidBlock(#[from] BlockError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T, E = AccountHistoryError> = std::result::Result<T, E>;

/// The head branch's reversible records, on top of the irreversible tables.
#[derive(Default)]
struct Overlay {
    /// Address -> record ids after its last irreversible one, in sequence order.
    addresses: HashMap<Vec<u8>, Vec<Vec<u8>>>,
    /// Record id -> the block holding the record (a later block's record wins).
    records: HashMap<Vec<u8>, Arc<BlockHistory>>,
}

impl Overlay {
    fn extend(&mut self, block: &Arc<BlockHistory>) {
        for (address, id) in &block.touches {
            self.addresses
                .entry(address.clone())
                .or_default()
                .push(id.clone());
        }
        for (id, _) in &block.records {
            self.records.insert(id.clone(), block.clone());
        }
    }

    fn record(&self, id: &[u8]) -> Option<&HistoryRecord> {
        let block = self.records.get(id)?;
        block
            .records
            .iter()
            .rev()
            .find(|(r, _)| r == id)
            .map(|(_, r)| r)
    }
}

struct State {
    forks: ForkTree,
    blocks: HashMap<Vec<u8>, Arc<BlockHistory>>,
    arrival_order: Vec<Vec<u8>>,
    overlay: Overlay,
}

impl State {
    fn rebuild_overlay(&mut self) {
        let mut overlay = Overlay::default();
        for block in self.forks.head_branch() {
            overlay.extend(&self.blocks[&block.id]);
        }
        self.overlay = overlay;
    }
}

/// The account history. Cheap to clone; queries run concurrently, writes one at a time.
#[derive(Clone)]
pub struct AccountHistory {
    store: Store,
    whitelist: Arc<Whitelist>,
    state: Arc<RwLock<State>>,
}

fn topology(info: &BlockInfo) -> BlockTopology {
    BlockTopology {
        id: info.id.clone(),
        height: info.height,
        previous: info.previous.clone(),
    }
}

fn history_key(address: &[u8], seq_num: u64) -> Vec<u8> {
    HistoryIndex {
        address: address.to_vec(),
        seq_num,
    }
    .encode_to_vec()
}

impl AccountHistory {
    /// Opens (or with `reset`, recreates) the history in directory `dir` and replays its
    /// reversible blocks.
    pub fn open(
        dir: &Path,
        reset: bool,
        algorithm: ForkAlgorithm,
        whitelist: Whitelist,
    ) -> Result<Self> {
        let store = Store::open_dir(dir, reset)?;
        let read = store.read()?;
        let lib = read
            .table(&LIB)?
            .get(KEY)?
            .unwrap_or_else(|| BlockTopology {
                id: ZERO_BLOCK_ID.to_vec(),
                height: 0,
                previous: Vec::new(),
            });
        let root = BlockInfo {
            id: lib.id,
            previous: lib.previous,
            height: lib.height,
            ..Default::default()
        };
        let history = Self {
            store: store.clone(),
            whitelist: Arc::new(whitelist),
            state: Arc::new(RwLock::new(State {
                forks: ForkTree::new(algorithm, root),
                blocks: HashMap::new(),
                arrival_order: Vec::new(),
                overlay: Overlay::default(),
            })),
        };
        let ids = read
            .table(&PENDING_INDEX)?
            .get(KEY)?
            .unwrap_or_default()
            .ids;
        let pending = read.table(&PENDING)?;
        let mut state = history.write_state();
        for id in ids {
            if let Some(accepted) = pending.get(&id)? {
                let block = block_history(&accepted, &history.whitelist)?;
                Self::insert(&mut state, Arc::new(block));
            }
        }
        state.rebuild_overlay();
        drop(state);
        Ok(history)
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one block in memory; keeps the overlay on the head's branch.
    fn insert(state: &mut State, history: Arc<BlockHistory>) -> Link {
        let link = state.forks.insert(history.info.clone());
        if let Link::Added {
            head_changed,
            extends,
        } = link
        {
            let id = history.info.id.clone();
            state.blocks.insert(id.clone(), history.clone());
            state.arrival_order.push(id);
            if extends {
                state.overlay.extend(&history);
            } else if head_changed {
                state.rebuild_overlay();
            }
        }
        link
    }

    /// Records one accepted block (see [`AccountHistory::add_blocks`]).
    pub fn add_block(&self, accepted: &BlockAccepted) -> Result<Link> {
        Ok(self.add_blocks(std::slice::from_ref(accepted))?[0])
    }

    /// Records accepted blocks, in order, in one durable write; returns what happened to each
    /// (blocks whose parent is unknown are not recorded: [`Link::Unlinked`]).
    pub fn add_blocks(&self, blocks: &[BlockAccepted]) -> Result<Vec<Link>> {
        let histories = blocks
            .iter()
            .map(|accepted| block_history(accepted, &self.whitelist).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = self.write_state();
        let mut txn = self.store.write()?;
        let mut links = Vec::with_capacity(blocks.len());
        let mut pending = txn.table(&PENDING)?;
        for (accepted, history) in blocks.iter().zip(histories) {
            let id = history.info.id.clone();
            let link = Self::insert(&mut state, history);
            if matches!(link, Link::Added { .. }) {
                pending.put(&id, accepted)?;
            }
            links.push(link);
        }
        drop(pending);
        if links.iter().any(|l| matches!(l, Link::Added { .. })) {
            write_index(&mut txn, &state.arrival_order)?;
            txn.commit()?;
        }
        Ok(links)
    }

    /// Makes block `lib` and its ancestors irreversible (their records become permanent; forks
    /// that do not descend from it are dropped). Returns false, changing nothing, if `lib` is
    /// not a known reversible block.
    pub fn commit(&self, lib: &[u8]) -> Result<bool> {
        let mut state = self.write_state();
        let mut forks = state.forks.clone();
        let Some(commit) = forks.commit(lib) else {
            return Ok(false);
        };
        let mut txn = self.store.write()?;
        // One table open at a time: number the touches, then write the index, then records.
        let mut entries = Vec::new();
        {
            let mut accounts = txn.table(&ACCOUNTS)?;
            for id in &commit.committed {
                for (address, record) in &state.blocks[id].touches {
                    let seq_num = accounts.get(address)?.map_or(0, |m| m.seq_num + 1);
                    accounts.put(address, &AccountMetadata { seq_num })?;
                    entries.push((history_key(address, seq_num), record));
                }
            }
        }
        {
            let mut history = txn.table(&HISTORY)?;
            for (key, record) in entries {
                history.put(&key, &RecordId { id: record.clone() })?;
            }
        }
        {
            let mut records = txn.table(&RECORDS)?;
            for id in &commit.committed {
                for (id, record) in &state.blocks[id].records {
                    records.put(id, record)?;
                }
            }
        }
        let gone: Vec<&Vec<u8>> = commit.committed.iter().chain(&commit.pruned).collect();
        {
            let mut pending = txn.table(&PENDING)?;
            for id in &gone {
                pending.remove(id)?;
            }
        }
        let order: Vec<Vec<u8>> = state
            .arrival_order
            .iter()
            .filter(|id| !gone.contains(id))
            .cloned()
            .collect();
        write_index(&mut txn, &order)?;
        txn.table(&LIB)?.put(KEY, &topology(forks.root()))?;
        txn.commit()?;
        for id in gone {
            state.blocks.remove(id);
        }
        state.arrival_order = order;
        state.forks = forks;
        state.rebuild_overlay();
        Ok(true)
    }

    /// The LIB and the head.
    pub fn lib_and_head(&self) -> (BlockTopology, BlockTopology) {
        let state = self.read_state();
        (topology(state.forks.root()), topology(state.forks.head()))
    }

    /// Whether block `id` is the LIB or a reversible block.
    pub fn contains(&self, id: &[u8]) -> bool {
        self.read_state().forks.contains(id)
    }

    /// `get_account_history`, as the official service answers it: up to `limit` records of
    /// `address` from `seq_num` (default 0, or the newest record when descending), in the
    /// head's history or, with `irreversible`, the LIB's.
    pub fn get_account_history(
        &self,
        request: &GetAccountHistoryRequest,
    ) -> Result<Vec<AccountHistoryEntry>> {
        if request.limit > MAX_REQUEST_LIMIT {
            return Err(AccountHistoryError::RequestLimitExceeded);
        }
        let state = self.read_state();
        let read = self.store.read()?;
        let (accounts, history, records) = (
            read.table(&ACCOUNTS)?,
            read.table(&HISTORY)?,
            read.table(&RECORDS)?,
        );
        let address = request.address.as_slice();
        let overlay = (!request.irreversible).then_some(&state.overlay);
        let base = accounts.get(address)?.map_or(0, |m| m.seq_num + 1);
        let reversible: &[Vec<u8>] = overlay
            .and_then(|o| o.addresses.get(address))
            .map_or(&[], Vec::as_slice);
        let count = base + reversible.len() as u64;
        let mut seq_num = match request.seq_num {
            Some(seq_num) => seq_num,
            None if !request.ascending && count > 0 => count - 1,
            None => 0,
        };
        let mut values = Vec::new();
        while (values.len() as u64) < request.limit {
            let id = if seq_num < base {
                match history.get(&history_key(address, seq_num))? {
                    Some(RecordId { id }) => id,
                    None => break,
                }
            } else {
                match reversible.get((seq_num - base) as usize) {
                    Some(id) => id.clone(),
                    None => break,
                }
            };
            let record = match overlay.and_then(|o| o.record(&id)) {
                Some(record) => record.clone(),
                None => records
                    .get(&id)?
                    .ok_or(AccountHistoryError::UnknownRecord)?,
            };
            values.push(AccountHistoryEntry {
                seq_num,
                record: record.record.map(|r| match r {
                    Record::Trx(trx) => account_history_entry::Record::Trx(trx),
                    Record::Block(block) => account_history_entry::Record::Block(block),
                }),
            });
            seq_num = if request.ascending {
                seq_num.wrapping_add(1)
            } else {
                seq_num.wrapping_sub(1)
            };
        }
        Ok(values)
    }
}

fn write_index(txn: &mut WriteTxn, ids: &[Vec<u8>]) -> Result<()> {
    txn.table(&PENDING_INDEX)?
        .put(KEY, &PendingIndex { ids: ids.to_vec() })?;
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
