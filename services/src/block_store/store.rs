//! The block store's records on disk and the queries over them (docs/protocol.md "RPC envelope and errors"; "Configuration and stores").

use koinos_protocol::BlockTopology;
use koinos_protocol::pb::koinos::block_store::{BlockItem, BlockRecord};
use koinos_protocol::{Block, BlockReceipt};
use prost::Message;

use super::skip_list::{previous_height_index, previous_heights};
use crate::storage::{self, StorageError, Store, Table, TableReader, TableWriter};

/// Service name: RPC queue `koinos.rpc.block_store`, data under `basedir/block_store/db`.
pub const SERVICE: &str = crate::mq::topology::service::BLOCK_STORE;
/// Most ids `get_blocks_by_id` accepts, and most blocks `get_blocks_by_height` returns.
pub const MAX_BLOCKS_PER_REQUEST: usize = 1000;
/// The id of "no block": the parent of block 1 and the highest block of an empty store.
pub const ZERO_BLOCK_ID: [u8; 34] = {
    let mut id = [0u8; 34];
    id[0] = 0x12;
    id[1] = 0x20;
    id
};

/// Block id -> `block_record` (public for benchmarks and tools that read records raw).
pub const BLOCKS: Table<BlockRecord> = Table::new("blocks");
/// Key [`HIGHEST_BLOCK_KEY`] -> the highest `block_topology` stored.
const METADATA: Table<BlockTopology> = Table::new("metadata");
const HIGHEST_BLOCK_KEY: &[u8] = &[0x01];

/// Errors a block store request can fail with; the texts are those of the official service.
#[derive(Debug, thiserror::Error)]
pub enum BlockStoreError {
    #[error("Cannot add empty optional block")]
    MissingBlock,
    #[error("block to add has no id")]
    MissingBlockId,
    #[error("block to add has no header")]
    MissingHeader,
    #[error("expected field, 'head_block_id' was nil")]
    MissingHeadBlockId,
    #[error("ancestor_start_height must be greater than 0")]
    ZeroStartHeight,
    #[error("requested too many blocks: {requested}, max: {MAX_BLOCKS_PER_REQUEST}")]
    TooManyBlocks { requested: usize },
    #[error("Block not present - ID: 0x{}", hex::encode(.0))]
    BlockNotPresent(Vec<u8>),
    #[error("expected field 'block_id' was nil")]
    MissingBlockIds,
    #[error("Block height mismatch")]
    BlockHeightMismatch,
    #[error("Unexpected height (corrupt block store?)")]
    UnexpectedHeight,
    #[error("Attempt to traverse before genesis")]
    TraverseBeforeGenesis,
    #[error("corrupt block record: {0}")]
    CorruptRecord(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T, E = BlockStoreError> = std::result::Result<T, E>;

/// What a walk over records makes of one record: its height, its parent id and the item, or
/// why the record is corrupt.
pub(super) type WalkStep<T> = std::result::Result<(u64, Option<Vec<u8>>, T), String>;

/// Only the linking fields of a `block_record` (1, 2, 5): decoding skips the block and receipt
/// bytes, so walking the chain does not pay for blocks it does not return.
#[derive(Clone, PartialEq, Message)]
struct RecordLinks {
    #[prost(bytes = "vec", tag = "1")]
    block_id: Vec<u8>,
    #[prost(uint64, tag = "2")]
    block_height: u64,
    #[prost(bytes = "vec", repeated, tag = "5")]
    previous_block_ids: Vec<Vec<u8>>,
}

/// Anything block records can be looked up in: a read snapshot or the write transaction.
trait Records {
    fn raw<T>(&self, id: &[u8], f: impl FnOnce(&[u8]) -> T) -> storage::Result<Option<T>>;

    fn links(&self, id: &[u8]) -> Result<Option<RecordLinks>> {
        self.raw(id, |bytes| RecordLinks::decode(bytes))?
            .transpose()
            .map_err(|source| corrupt(source).into())
    }
}

impl Records for TableReader<BlockRecord> {
    fn raw<T>(&self, id: &[u8], f: impl FnOnce(&[u8]) -> T) -> storage::Result<Option<T>> {
        self.with_raw(id, f)
    }
}

impl Records for TableWriter<'_, BlockRecord> {
    fn raw<T>(&self, id: &[u8], f: impl FnOnce(&[u8]) -> T) -> storage::Result<Option<T>> {
        self.with_raw(id, f)
    }
}

fn corrupt(source: prost::DecodeError) -> StorageError {
    StorageError::DecodeRecord {
        table: BLOCKS.name(),
        source,
    }
}

/// The block store: blocks of every fork by id, with ancestors by height via the skip list.
#[derive(Clone)]
pub struct BlockStore {
    store: Store,
}

impl BlockStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Opens `basedir/block_store/db`.
    pub fn open(basedir: &std::path::Path, reset: bool) -> Result<Self> {
        Ok(Self::new(Store::open_service(basedir, SERVICE, reset)?))
    }

    pub fn storage(&self) -> &Store {
        &self.store
    }

    /// Stores `block` (with its full receipt, state deltas included: chain catch-up replays
    /// them) and raises the highest block if it is higher. Atomic and durable on return.
    /// Re-adding a stored block only fills in a receipt it lacked.
    pub fn add_block(&self, block: Block, receipt: Option<BlockReceipt>) -> Result<()> {
        self.add_blocks([(block, receipt)])
    }

    /// Stores `blocks` in order in one atomic, durable transaction (e.g. a catch-up page):
    /// each may build on the ones before it. All or nothing.
    pub fn add_blocks(
        &self,
        blocks: impl IntoIterator<Item = (Block, Option<BlockReceipt>)>,
    ) -> Result<()> {
        let mut txn = self.store.write()?;
        let mut highest: Option<BlockTopology> = None;
        let mut table = txn.table(&BLOCKS)?;
        for (block, receipt) in blocks {
            if let Some(topology) = put_block(&mut table, block, receipt)?
                && highest.as_ref().is_none_or(|h| h.height < topology.height)
            {
                highest = Some(topology);
            }
        }
        drop(table);
        if let Some(topology) = highest {
            let mut metadata = txn.table(&METADATA)?;
            let higher = metadata
                .get(HIGHEST_BLOCK_KEY)?
                .is_none_or(|current| current.height < topology.height);
            if higher {
                metadata.put(HIGHEST_BLOCK_KEY, &topology)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The highest block stored, or `{ZERO_BLOCK_ID, 0}` when empty.
    pub fn highest_block(&self) -> Result<BlockTopology> {
        let read = self.store.read()?;
        Ok(read
            .table(&METADATA)?
            .get(HIGHEST_BLOCK_KEY)?
            .unwrap_or_else(|| BlockTopology {
                id: ZERO_BLOCK_ID.to_vec(),
                height: 0,
                previous: Vec::new(),
            }))
    }

    /// The stored record of `id`, if any.
    pub fn record(&self, id: &[u8]) -> Result<Option<BlockRecord>> {
        Ok(self.store.read()?.table(&BLOCKS)?.get(id)?)
    }

    /// One item per id, in order; an unknown id yields an empty item in its slot. An empty
    /// list is an error, as in the official service (protobuf-go decodes it as nil).
    pub fn get_blocks_by_id(
        &self,
        ids: &[Vec<u8>],
        return_block: bool,
        return_receipt: bool,
    ) -> Result<Vec<BlockItem>> {
        if ids.is_empty() {
            return Err(BlockStoreError::MissingBlockIds);
        }
        if ids.len() > MAX_BLOCKS_PER_REQUEST {
            return Err(BlockStoreError::TooManyBlocks {
                requested: ids.len(),
            });
        }
        let read = self.store.read()?;
        let blocks = read.table(&BLOCKS)?;
        ids.iter()
            .map(|id| {
                Ok(blocks
                    .with_raw(id, |bytes| {
                        decode_item(bytes, return_block, return_receipt).map(|(item, _)| item)
                    })?
                    .transpose()
                    .map_err(corrupt)?
                    .unwrap_or_default())
            })
            .collect()
    }

    /// The ancestors of `head_block_id` (itself included) from `start_height` upwards, at most
    /// `num_blocks`, ascending; a range reaching past the head is truncated at the head.
    pub fn get_blocks_by_height(
        &self,
        head_block_id: &[u8],
        start_height: u64,
        num_blocks: u32,
        return_block: bool,
        return_receipt: bool,
    ) -> Result<Vec<BlockItem>> {
        self.walk_by_height(head_block_id, start_height, num_blocks, |bytes| {
            let (item, previous) =
                decode_item(bytes, return_block, return_receipt).map_err(|e| e.to_string())?;
            Ok((item.block_height, previous, item))
        })
    }

    /// The checks and the walk of [`BlockStore::get_blocks_by_height`], with each record's
    /// bytes turned into a `T` by `read` (which also returns the record's height and parent).
    pub(super) fn walk_by_height<T>(
        &self,
        head_block_id: &[u8],
        start_height: u64,
        num_blocks: u32,
        mut read: impl FnMut(&[u8]) -> WalkStep<T>,
    ) -> Result<Vec<T>> {
        if num_blocks == 0 {
            return Ok(Vec::new());
        }
        if num_blocks as usize > MAX_BLOCKS_PER_REQUEST {
            return Err(BlockStoreError::TooManyBlocks {
                requested: num_blocks as usize,
            });
        }
        if start_height == 0 {
            return Err(BlockStoreError::ZeroStartHeight);
        }
        if head_block_id.is_empty() {
            return Err(BlockStoreError::MissingHeadBlockId);
        }
        let snapshot = self.store.read()?;
        let blocks = snapshot.table(&BLOCKS)?;
        let head = blocks
            .links(head_block_id)?
            .ok_or_else(|| BlockStoreError::BlockNotPresent(head_block_id.to_vec()))?;
        if start_height > head.block_height {
            return Err(BlockStoreError::BlockHeightMismatch);
        }
        let end_height = (start_height + u64::from(num_blocks) - 1).min(head.block_height);
        let count = (end_height - start_height + 1) as usize;

        let mut id = ancestor_id_at_height(&blocks, head_block_id, end_height)?;
        let mut items = Vec::with_capacity(count);
        for i in 0..count {
            let expected = end_height - i as u64;
            let found = blocks
                .with_raw(&id, &mut read)?
                .transpose()
                .map_err(BlockStoreError::CorruptRecord)?;
            let Some((height, previous, item)) = found else {
                return Err(BlockStoreError::BlockNotPresent(id));
            };
            if height != expected {
                return Err(BlockStoreError::UnexpectedHeight);
            }
            items.push(item);
            if i + 1 < count {
                id = previous.ok_or(BlockStoreError::TraverseBeforeGenesis)?;
            }
        }
        items.reverse();
        Ok(items)
    }

    /// The id of the ancestor of `block_id` at `height` (the block itself at its own height).
    pub fn ancestor_id_at_height(&self, block_id: &[u8], height: u64) -> Result<Vec<u8>> {
        let read = self.store.read()?;
        ancestor_id_at_height(&read.table(&BLOCKS)?, block_id, height)
    }
}

/// Writes one block record with its skip list; `None` if the block was already stored (with
/// a receipt, or without one and none is given now).
fn put_block(
    blocks: &mut TableWriter<'_, BlockRecord>,
    block: Block,
    receipt: Option<BlockReceipt>,
) -> Result<Option<BlockTopology>> {
    if block.id.is_empty() {
        return Err(BlockStoreError::MissingBlockId);
    }
    let header = block
        .header
        .as_ref()
        .ok_or(BlockStoreError::MissingHeader)?;
    let (height, previous) = (header.height, header.previous.clone());
    if let Some(existing) = blocks.get(&block.id)?
        && (existing.receipt.is_some() || receipt.is_none())
    {
        return Ok(None);
    }
    let previous_block_ids = if height > 1 {
        previous_heights(height)
            .into_iter()
            .map(|h| {
                if h == height - 1 {
                    Ok(previous.clone())
                } else {
                    ancestor_id_at_height(blocks, &previous, h)
                }
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        vec![previous.clone()]
    };
    let topology = BlockTopology {
        id: block.id.clone(),
        height,
        previous,
    };
    blocks.put(
        &topology.id,
        &BlockRecord {
            block_id: topology.id.clone(),
            block_height: height,
            block: Some(block),
            receipt,
            previous_block_ids,
        },
    )?;
    Ok(Some(topology))
}

/// A `block_record` decoded without its receipt (fields 1, 2, 3, 5).
#[derive(Clone, PartialEq, Message)]
struct RecordWithBlock {
    #[prost(bytes = "vec", tag = "1")]
    block_id: Vec<u8>,
    #[prost(uint64, tag = "2")]
    block_height: u64,
    #[prost(message, optional, tag = "3")]
    block: Option<Block>,
    #[prost(bytes = "vec", repeated, tag = "5")]
    previous_block_ids: Vec<Vec<u8>>,
}

/// A `block_record` decoded without its block (fields 1, 2, 4, 5).
#[derive(Clone, PartialEq, Message)]
struct RecordWithReceipt {
    #[prost(bytes = "vec", tag = "1")]
    block_id: Vec<u8>,
    #[prost(uint64, tag = "2")]
    block_height: u64,
    #[prost(message, optional, tag = "4")]
    receipt: Option<BlockReceipt>,
    #[prost(bytes = "vec", repeated, tag = "5")]
    previous_block_ids: Vec<Vec<u8>>,
}

/// The `block_item` in the bytes of a `block_record`, and the record's parent id. One decode
/// pass that skips (without allocating) whatever the request does not return.
fn decode_item(
    bytes: &[u8],
    return_block: bool,
    return_receipt: bool,
) -> std::result::Result<(BlockItem, Option<Vec<u8>>), prost::DecodeError> {
    let first = |ids: Vec<Vec<u8>>| ids.into_iter().next();
    Ok(match (return_block, return_receipt) {
        (true, true) => {
            let r = BlockRecord::decode(bytes)?;
            let item = BlockItem {
                block_id: r.block_id,
                block_height: r.block_height,
                block: r.block,
                receipt: r.receipt,
            };
            (item, first(r.previous_block_ids))
        }
        (true, false) => {
            let r = RecordWithBlock::decode(bytes)?;
            let item = BlockItem {
                block_id: r.block_id,
                block_height: r.block_height,
                block: r.block,
                receipt: None,
            };
            (item, first(r.previous_block_ids))
        }
        (false, true) => {
            let r = RecordWithReceipt::decode(bytes)?;
            let item = BlockItem {
                block_id: r.block_id,
                block_height: r.block_height,
                block: None,
                receipt: r.receipt,
            };
            (item, first(r.previous_block_ids))
        }
        (false, false) => {
            let r = RecordLinks::decode(bytes)?;
            let item = BlockItem {
                block_id: r.block_id,
                block_height: r.block_height,
                ..Default::default()
            };
            (item, first(r.previous_block_ids))
        }
    })
}

/// Follows the skip list from `block_id` down to `height`, reading as few records as possible.
fn ancestor_id_at_height(records: &impl Records, block_id: &[u8], height: u64) -> Result<Vec<u8>> {
    let mut id = block_id.to_vec();
    let mut expected_height = None;
    loop {
        let record = records
            .links(&id)?
            .ok_or_else(|| BlockStoreError::BlockNotPresent(id.clone()))?;
        if expected_height.is_some_and(|h| h != record.block_height) {
            return Err(BlockStoreError::UnexpectedHeight);
        }
        if record.block_height == height {
            return Ok(record.block_id);
        }
        let (index, next_height) = previous_height_index(height, record.block_height)
            .ok_or(BlockStoreError::BlockHeightMismatch)?;
        id = record
            .previous_block_ids
            .into_iter()
            .nth(index)
            .ok_or(BlockStoreError::UnexpectedHeight)?;
        if next_height == height {
            return Ok(id);
        }
        expected_height = Some(next_height);
    }
}
