//! Fork-aware chain state on redb.
//!
//! Layout of `basedir/chain/blockchain/state.redb`:
//! - table `state`: state key -> value, the state at the last irreversible block (the root);
//! - table `nodes`: block id -> [`NodeRecord`], every finalized block above the root with its
//!   delta over its parent;
//! - table `meta`: `root` -> the root block's [`NodeRecord`] (no delta), `head` -> head id.
//!
//! Adding a block, moving the head, committing blocks up to the new LIB into `state` and pruning
//! the forks that do not descend from it happen in one redb write transaction, so a crash leaves
//! either the old or the new state, never a mix.

mod keys;
mod session;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use prost::Message;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

pub use keys::{
    ObjectSpace, contract_space, prefix_end, space_range, split_state_key, state_key,
    state_merkle_root,
};
pub use session::{Delta, StateNode, StateSession};

use super::error::{ChainError, ChainResult, code};
use super::fork::{BlockInfo, ForkAlgorithm, choose_head, irreversible_height};
use session::CommittedTable;

const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// A finalized block as stored in the `nodes` table.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeRecord {
    #[prost(bytes = "vec", tag = "1")]
    pub id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub previous: Vec<u8>,
    #[prost(uint64, tag = "3")]
    pub height: u64,
    #[prost(uint64, tag = "4")]
    pub timestamp: u64,
    #[prost(bytes = "vec", tag = "5")]
    pub signer: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub state_merkle_root: Vec<u8>,
    #[prost(message, repeated, tag = "7")]
    pub delta: Vec<DeltaRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DeltaRecord {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub value: Option<Vec<u8>>,
}

impl NodeRecord {
    fn new(info: &BlockInfo, delta: &Delta) -> Self {
        Self {
            id: info.id.clone(),
            previous: info.previous.clone(),
            height: info.height,
            timestamp: info.timestamp,
            signer: info.signer.clone(),
            state_merkle_root: info.state_merkle_root.clone(),
            delta: delta
                .iter()
                .map(|(key, value)| DeltaRecord {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }

    fn into_node(self) -> StateNode {
        let delta = self.delta.into_iter().map(|d| (d.key, d.value)).collect();
        StateNode {
            info: BlockInfo {
                id: self.id,
                previous: self.previous,
                height: self.height,
                timestamp: self.timestamp,
                signer: self.signer,
                state_merkle_root: self.state_merkle_root,
            },
            delta,
        }
    }
}

/// What adding a block changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUpdate {
    /// The new block is the head.
    pub is_head: bool,
    /// The head before the block was added.
    pub previous_head: Vec<u8>,
    /// The new last irreversible block, when it advanced.
    pub new_lib: Option<BlockInfo>,
}

/// The chain's state database: the irreversible root plus a tree of finalized blocks above it.
pub struct StateDb {
    db: Database,
    committed: Arc<CommittedTable>,
    root: BlockInfo,
    nodes: HashMap<Vec<u8>, Arc<StateNode>>,
    children: HashMap<Vec<u8>, Vec<Vec<u8>>>,
    head: Vec<u8>,
    durability: Durability,
}

impl StateDb {
    /// Opens (or creates) the database at `path`. A new database is initialised with the root
    /// returned by `genesis` (its block info and its state, written into the committed table).
    pub fn open(
        path: &Path,
        genesis: impl FnOnce() -> ChainResult<(BlockInfo, Delta)>,
    ) -> ChainResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ChainError::new(
                    code::BLOCK_STATE_ERROR,
                    format!("cannot create {dir:?}: {e}"),
                )
            })?;
        }
        let db = Database::create(path)?;
        let existing_root = {
            let txn = db.begin_write()?;
            let root = txn
                .open_table(META)?
                .get("root")?
                .map(|v| v.value().to_vec());
            txn.open_table(STATE)?;
            txn.open_table(NODES)?;
            txn.commit()?;
            root
        };
        if existing_root.is_none() {
            let (info, delta) = genesis()?;
            let txn = db.begin_write()?;
            {
                let mut state = txn.open_table(STATE)?;
                for (key, value) in &delta {
                    if let Some(value) = value {
                        state.insert(key.as_slice(), value.as_slice())?;
                    }
                }
                let mut meta = txn.open_table(META)?;
                let record = NodeRecord::new(&info, &Delta::new()).encode_to_vec();
                meta.insert("root", record.as_slice())?;
                meta.insert("head", info.id.as_slice())?;
            }
            txn.commit()?;
        }
        Self::load(db)
    }

    fn load(db: Database) -> ChainResult<Self> {
        let read = db.begin_read()?;
        let meta = read.open_table(META)?;
        let decode = |bytes: &[u8]| {
            NodeRecord::decode(bytes).map_err(|e| {
                ChainError::new(code::BLOCK_STATE_ERROR, format!("corrupt state node: {e}"))
            })
        };
        let root_bytes = meta
            .get("root")?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        let root = decode(&root_bytes)?.into_node().info;
        let head = meta.get("head")?.map(|v| v.value().to_vec());
        let mut nodes = HashMap::new();
        for entry in read.open_table(NODES)?.iter()? {
            let (_, value) = entry?;
            let node = decode(value.value())?.into_node();
            nodes.insert(node.info.id.clone(), Arc::new(node));
        }
        let committed = Arc::new(read.open_table(STATE)?);
        let mut this = Self {
            db,
            committed,
            root: root.clone(),
            nodes,
            children: HashMap::new(),
            head: head.unwrap_or(root.id),
            durability: Durability::Immediate,
        };
        this.rebuild_children();
        if !this.contains(&this.head.clone()) {
            this.head = this.root.id.clone();
        }
        Ok(this)
    }

    fn rebuild_children(&mut self) {
        self.children.clear();
        for node in self.nodes.values() {
            self.children
                .entry(node.info.previous.clone())
                .or_default()
                .push(node.info.id.clone());
        }
    }

    /// `false` batches commits without fsync (catch-up); `true` restores durable commits and
    /// makes everything committed so far durable.
    pub fn set_durable(&mut self, durable: bool) -> ChainResult<()> {
        let was_durable = matches!(self.durability, Durability::Immediate);
        self.durability = if durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        if durable && !was_durable {
            // An empty durable commit persists the preceding non-durable ones.
            self.db.begin_write()?.commit()?;
        }
        Ok(())
    }

    /// The last irreversible block (the committed root).
    pub fn root(&self) -> &BlockInfo {
        &self.root
    }

    pub fn head(&self) -> &BlockInfo {
        self.info(&self.head).unwrap_or(&self.root)
    }

    /// The root or a finalized block above it.
    pub fn info(&self, id: &[u8]) -> Option<&BlockInfo> {
        if id == self.root.id {
            Some(&self.root)
        } else {
            self.nodes.get(id).map(|n| &n.info)
        }
    }

    pub fn contains(&self, id: &[u8]) -> bool {
        self.info(id).is_some()
    }

    /// Leaves of the block tree (the root when no block is above it).
    pub fn fork_heads(&self) -> Vec<&BlockInfo> {
        let mut heads: Vec<&BlockInfo> = self
            .nodes
            .values()
            .filter(|n| !self.children.contains_key(&n.info.id))
            .map(|n| &n.info)
            .collect();
        if heads.is_empty() {
            heads.push(&self.root);
        }
        heads
    }

    /// The ancestor of `id` (inclusive) at `height`, if both are in the tree.
    pub fn ancestor_at(&self, id: &[u8], height: u64) -> Option<&BlockInfo> {
        let mut info = self.info(id)?;
        while info.height > height {
            info = self.info(&info.previous)?;
        }
        (info.height == height).then_some(info)
    }

    /// A session over the state after block `id` (the root or a finalized block).
    pub fn session(&self, id: &[u8]) -> ChainResult<StateSession> {
        let mut ancestors = Vec::new();
        let mut current = id.to_vec();
        while current != self.root.id {
            let node = self.nodes.get(&current).ok_or_else(|| {
                ChainError::new(code::UNKNOWN_PREVIOUS_BLOCK, "unknown state node")
                    .with_param("block_id", format!("0x{}", hex::encode(&current)))
            })?;
            current = node.info.previous.clone();
            ancestors.push(node.clone());
        }
        Ok(StateSession::new(ancestors, self.committed.clone()))
    }

    /// Adds a finalized block (its parent must be in the tree), runs fork choice, commits up to
    /// the new LIB and prunes forks that do not descend from it, atomically.
    pub fn add_node(
        &mut self,
        info: BlockInfo,
        delta: Delta,
        algorithm: ForkAlgorithm,
    ) -> ChainResult<NodeUpdate> {
        if !self.contains(&info.previous) {
            return Err(ChainError::new(
                code::UNKNOWN_PREVIOUS_BLOCK,
                "unknown previous block",
            ));
        }
        let previous_head = self.head.clone();
        let record = NodeRecord::new(&info, &delta).encode_to_vec();
        let id = info.id.clone();
        self.children
            .entry(info.previous.clone())
            .or_default()
            .push(id.clone());
        self.nodes
            .insert(id.clone(), Arc::new(StateNode { info, delta }));

        let head = self.head().clone();
        let new_info = self.info(&id).cloned().unwrap_or_default();
        let head_parent = (head.id != self.root.id)
            .then(|| self.info(&head.previous))
            .flatten();
        let new_head = choose_head(algorithm, &head, &new_info, &self.fork_heads(), head_parent);
        let new_head_height = self.info(&new_head).map_or(0, |i| i.height);
        let lib_height = irreversible_height(new_head_height);
        let new_lib = (lib_height > self.root.height)
            .then(|| self.ancestor_at(&new_head, lib_height).cloned())
            .flatten();

        let result = self.persist(&id, &record, &new_head, new_lib.as_ref());
        if let Err(e) = result {
            // Roll the in-memory tree back to what is on disk.
            self.nodes.remove(&id);
            self.rebuild_children();
            return Err(e);
        }
        self.head = new_head;
        Ok(NodeUpdate {
            is_head: self.head == id,
            previous_head,
            new_lib,
        })
    }

    fn persist(
        &mut self,
        id: &[u8],
        record: &[u8],
        head: &[u8],
        new_lib: Option<&BlockInfo>,
    ) -> ChainResult<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(self.durability)
            .map_err(|e| ChainError::internal(format!("cannot set durability: {e}")))?;
        let mut pruned = Vec::new();
        {
            let mut nodes = txn.open_table(NODES)?;
            nodes.insert(id, record)?;
            let mut meta = txn.open_table(META)?;
            meta.insert("head", head)?;
            if let Some(lib) = new_lib {
                // Blocks from the old root (exclusive) to the LIB (inclusive), oldest first.
                let mut path = Vec::new();
                let mut current = lib.id.clone();
                while current != self.root.id {
                    let node = &self.nodes[&current];
                    path.push(node.clone());
                    current = node.info.previous.clone();
                }
                path.reverse();
                let mut state = txn.open_table(STATE)?;
                for node in &path {
                    for (key, value) in &node.delta {
                        match value {
                            Some(value) => state.insert(key.as_slice(), value.as_slice())?,
                            None => state.remove(key.as_slice())?,
                        };
                    }
                }
                let keep = self.descendants(&lib.id);
                for node_id in self.nodes.keys() {
                    if !keep.contains(node_id) {
                        nodes.remove(node_id.as_slice())?;
                        pruned.push(node_id.clone());
                    }
                }
                let root_record = NodeRecord::new(lib, &Delta::new()).encode_to_vec();
                meta.insert("root", root_record.as_slice())?;
            }
        }
        txn.commit()?;
        if let Some(lib) = new_lib {
            for node_id in pruned {
                self.nodes.remove(&node_id);
            }
            self.root = lib.clone();
            self.rebuild_children();
            self.committed = Arc::new(self.db.begin_read()?.open_table(STATE)?);
        }
        Ok(())
    }

    /// Strict descendants of `id`.
    fn descendants(&self, id: &[u8]) -> HashSet<Vec<u8>> {
        let mut out = HashSet::new();
        let mut stack = vec![id.to_vec()];
        while let Some(current) = stack.pop() {
            for child in self.children.get(&current).into_iter().flatten() {
                if out.insert(child.clone()) {
                    stack.push(child.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
