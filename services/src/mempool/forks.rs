//! The mempool's fork tree: one pending set per accepted block, mirroring `koinos.block.accept`
//! (docs/protocol.md "Mempool").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use koinos_protocol::BlockTopology;
use koinos_protocol::broadcast::{BlockAccepted, MempoolAccepted, TransactionAccepted};
use koinos_protocol::pb::koinos::mempool::PendingTransaction;

use super::MempoolError;
use super::pending::{Entry, NonceKey, PendingSet, Refusal, decode_nonce};

/// Most transactions (or ids) one request may ask for.
pub const MAX_REQUEST_LIMIT: u64 = 2000;

/// Id of the root before any block was heard of.
const ROOT_ID: [u8; 34] = {
    let mut id = [0u8; 34];
    id[0] = 0x12;
    id[1] = 0x20;
    id
};

struct Node {
    parent: Option<Vec<u8>>,
    height: u64,
    pending: PendingSet,
}

/// What a block did to the tree.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// Applied (and with it every parked descendant that now connects): their ids in order.
    Applied(Vec<Vec<u8>>),
    /// Parent unknown: kept until its parent arrives or it falls below irreversibility.
    Parked,
}

/// The in-memory mempool. Not synchronized: the service wraps it in a lock.
pub struct Mempool {
    nodes: HashMap<Vec<u8>, Node>,
    root: Vec<u8>,
    head: Vec<u8>,
    /// Blocks whose parent is unknown, by height.
    parked: BTreeMap<u64, Vec<BlockAccepted>>,
    /// Whether any block was applied since start (before that, the listings ignore `block_id`).
    heard_blocks: bool,
}

impl Default for Mempool {
    fn default() -> Self {
        Self::new()
    }
}

impl Mempool {
    pub fn new() -> Self {
        let root = ROOT_ID.to_vec();
        let mut nodes = HashMap::new();
        nodes.insert(
            root.clone(),
            Node {
                parent: None,
                height: 0,
                pending: PendingSet::default(),
            },
        );
        Self {
            nodes,
            head: root.clone(),
            root,
            parked: BTreeMap::new(),
            heard_blocks: false,
        }
    }

    /// The block whose pending set answers queries without a `block_id`.
    pub fn head(&self) -> (&[u8], u64) {
        (&self.head, self.nodes[&self.head].height)
    }

    /// Number of fork nodes held (root included).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of parked blocks.
    pub fn parked_count(&self) -> usize {
        self.parked.values().map(Vec::len).sum()
    }

    /// Adds an accepted transaction to every fork that admits it (docs/protocol.md "Mempool"). A payer
    /// over its RC or a duplicate id refuses it everywhere; a nonce already pending on a fork
    /// only skips that fork; at least one fork must take it.
    pub fn add_transaction(
        &mut self,
        accepted: &TransactionAccepted,
        now_ms: u64,
    ) -> Result<MempoolAccepted, MempoolError> {
        let receipt = accepted.receipt.clone().unwrap_or_default();
        let pending = PendingTransaction {
            transaction: accepted.transaction.clone(),
            disk_storage_used: receipt.disk_storage_used,
            network_bandwidth_used: receipt.network_bandwidth_used,
            compute_bandwidth_used: receipt.compute_bandwidth_used,
            system_disk_storage_used: accepted.system_disk_storage_used,
            system_network_bandwidth_used: accepted.system_network_bandwidth_used,
            system_compute_bandwidth_used: accepted.system_compute_bandwidth_used,
        };
        let max_payer_rc = receipt.max_payer_rc;
        let entry = Arc::new(Entry::new(pending, now_ms)?);

        // An ancestor of a fork head is stale: its pending set still holds transactions its
        // descendants included, whose RC `max_payer_rc` (read at chain's head) already paid.
        // Its RC record would count them twice, so only fork heads may refuse on resources.
        let fork_heads = self.fork_heads();
        let mut admitted = Vec::new();
        for (id, node) in &self.nodes {
            match node.pending.admit(&entry, max_payer_rc) {
                Ok(()) => admitted.push(id.clone()),
                Err(Refusal::NonceConflict) => {}
                Err(Refusal::Fatal(MempoolError::ExceedsResources(_)))
                    if !fork_heads.contains(id) => {}
                Err(Refusal::Fatal(e)) => return Err(e),
            }
        }
        if admitted.is_empty() {
            return Err(MempoolError::NonceConflict {
                account: entry.nonce_key.0.clone(),
                nonce: entry.nonce_key.1,
            });
        }
        let mut pending_rc_used = 0;
        for id in admitted {
            let node = self.nodes.get_mut(&id).expect("admitted node exists");
            let reserved = node.pending.insert(entry.clone(), max_payer_rc);
            if id == self.head {
                pending_rc_used = reserved;
            }
        }
        Ok(MempoolAccepted {
            transaction: accepted.transaction.clone(),
            receipt: accepted.receipt.clone(),
            height: accepted.height,
            pending_rc_used,
        })
    }

    /// Applies an accepted block: its node starts as a copy of its parent's pending set minus
    /// the block's transactions. A block whose parent is unknown is parked; applying a block
    /// also applies the parked blocks that now connect to it.
    pub fn apply_block(&mut self, accepted: &BlockAccepted) -> Result<BlockOutcome, MempoolError> {
        let mut applied = Vec::new();
        if !self.try_apply(accepted, &mut applied)? {
            let height = block_height(accepted);
            self.parked
                .entry(height)
                .or_default()
                .push(accepted.clone());
            return Ok(BlockOutcome::Parked);
        }
        let mut cursor = 0;
        while cursor < applied.len() {
            let parent = applied[cursor].clone();
            let parent_height = self.nodes[&parent].height;
            if let Some(waiting) = self.parked.remove(&(parent_height + 1)) {
                let mut still_waiting = Vec::new();
                for child in waiting {
                    let connects = child
                        .block
                        .as_ref()
                        .and_then(|b| b.header.as_ref())
                        .is_some_and(|h| h.previous == parent);
                    if !(connects && self.try_apply(&child, &mut applied)?) {
                        still_waiting.push(child);
                    }
                }
                if !still_waiting.is_empty() {
                    self.parked.insert(parent_height + 1, still_waiting);
                }
            }
            cursor += 1;
        }
        Ok(BlockOutcome::Applied(applied))
    }

    fn try_apply(
        &mut self,
        accepted: &BlockAccepted,
        applied: &mut Vec<Vec<u8>>,
    ) -> Result<bool, MempoolError> {
        let block = accepted.block.as_ref().ok_or(MempoolError::MissingBlock)?;
        let header = block.header.as_ref().ok_or(MempoolError::MissingBlock)?;
        if block.id.is_empty() {
            return Err(MempoolError::MissingBlock);
        }
        if self.nodes.contains_key(&block.id) {
            applied.push(block.id.clone());
            return Ok(true);
        }
        // Before the first block, whatever block comes first grows from the root: the mempool
        // may start in the middle of a chain.
        let parent = if self.heard_blocks {
            header.previous.clone()
        } else {
            self.root.clone()
        };
        let Some(parent_node) = self.nodes.get(&parent) else {
            return Ok(false);
        };
        let mut pending = parent_node.pending.clone();
        pending.remove_ids(block.transactions.iter().map(|t| t.id.as_slice()));
        self.nodes.insert(
            block.id.clone(),
            Node {
                parent: Some(parent),
                height: header.height,
                pending,
            },
        );
        // Chain's fork choice decides (`head`); a chain that does not set it still makes any
        // higher block the head, as every fork-choice algorithm does.
        if accepted.head || header.height > self.nodes[&self.head].height {
            self.head = block.id.clone();
        }
        self.heard_blocks = true;
        applied.push(block.id.clone());
        Ok(true)
    }

    /// Commits to the last irreversible block: it becomes the root, and every node that does
    /// not descend from it (other forks, its ancestors) is dropped, as are parked blocks at or
    /// below its height. An unknown block changes nothing but the parked set.
    pub fn apply_irreversible(&mut self, lib: &BlockTopology) {
        self.parked.retain(|height, _| *height > lib.height);
        if !self.nodes.contains_key(&lib.id) || lib.id == self.root {
            return;
        }
        let keep = self.descendants_of(&lib.id);
        self.nodes.retain(|id, _| keep.contains(id));
        if let Some(node) = self.nodes.get_mut(&lib.id) {
            node.parent = None;
        }
        self.root = lib.id.clone();
        if !self.nodes.contains_key(&self.head) {
            self.head = self.root.clone();
        }
    }

    fn descendants_of(&self, id: &[u8]) -> HashSet<Vec<u8>> {
        let mut children: HashMap<&[u8], Vec<&[u8]>> = HashMap::new();
        for (child, node) in &self.nodes {
            if let Some(parent) = &node.parent {
                children.entry(parent).or_default().push(child);
            }
        }
        let mut keep = HashSet::new();
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            keep.insert(next.to_vec());
            stack.extend(children.get(next).into_iter().flatten());
        }
        keep
    }

    /// Fork heads: nodes no other node builds on. Any other node is an ancestor of one.
    fn fork_heads(&self) -> HashSet<Vec<u8>> {
        let parents: HashSet<&[u8]> = self
            .nodes
            .values()
            .filter_map(|n| n.parent.as_deref())
            .collect();
        self.nodes
            .keys()
            .filter(|id| !parents.contains(id.as_slice()))
            .cloned()
            .collect()
    }

    /// Removes failed transactions from every fork head; returns how many left the head.
    pub fn remove_transactions(&mut self, ids: &[Vec<u8>]) -> usize {
        self.on_fork_heads(|set| set.remove_ids(ids.iter().map(Vec::as_slice)))
    }

    /// Drops transactions received more than `expiration_ms` before `now_ms` from every fork
    /// head; returns how many left the head.
    pub fn prune(&mut self, expiration_ms: u64, now_ms: u64) -> usize {
        self.on_fork_heads(|set| set.prune(expiration_ms, now_ms))
    }

    fn on_fork_heads(&mut self, mut f: impl FnMut(&mut PendingSet) -> usize) -> usize {
        let mut on_head = 0;
        for id in self.fork_heads() {
            let count = f(&mut self.nodes.get_mut(&id).expect("fork head exists").pending);
            if id == self.head {
                on_head = count;
            }
        }
        on_head
    }

    /// The set answering a query for `block_id` (the head when absent); an unknown block is an
    /// error, as in the official service.
    fn node(
        &self,
        block_id: Option<&[u8]>,
        what: &'static str,
    ) -> Result<&PendingSet, MempoolError> {
        let id = block_id.unwrap_or(&self.head);
        self.nodes
            .get(id)
            .map(|n| &n.pending)
            .ok_or(MempoolError::UnknownBlock(what))
    }

    /// [`Mempool::node`] for the listing queries (`get_pending_transactions` and by id): before
    /// any block was heard of they read the root whatever `block_id` says (the block may be
    /// legitimate but not heard of yet), as the official service does for these two only.
    fn listing_node(
        &self,
        block_id: Option<&[u8]>,
        what: &'static str,
    ) -> Result<&PendingSet, MempoolError> {
        self.node(block_id.filter(|_| self.heard_blocks), what)
    }

    /// Up to `limit` pending transactions of the fork at `block_id`, oldest first.
    pub fn pending_transactions(
        &self,
        limit: u64,
        block_id: Option<&[u8]>,
    ) -> Result<Vec<PendingTransaction>, MempoolError> {
        if limit > MAX_REQUEST_LIMIT {
            return Err(MempoolError::TooManyRequested);
        }
        Ok(self
            .listing_node(block_id, "retrieve pending transactions")?
            .first(limit as usize))
    }

    /// The pending transactions among `ids` on the fork at `block_id`; unknown ids skipped.
    pub fn pending_transactions_by_id(
        &self,
        ids: &[Vec<u8>],
        block_id: Option<&[u8]>,
    ) -> Result<Vec<PendingTransaction>, MempoolError> {
        if ids.len() as u64 > MAX_REQUEST_LIMIT {
            return Err(MempoolError::TooManyRequested);
        }
        Ok(self
            .listing_node(block_id, "retrieve pending transactions")?
            .by_ids(ids))
    }

    /// Whether the payer can pend `rc_limit` more: on the given fork, or on every fork head.
    ///
    /// Without a block, ancestors of fork heads are not asked: chain reads `max_payer_rc` at
    /// its head, after the blocks that included their pending transactions consumed the RC,
    /// so their records would charge those transactions twice (a payer spending its whole RC
    /// in one block would be refused until that block became irreversible).
    pub fn check_pending_account_resources(
        &self,
        payer: &[u8],
        max_payer_rc: u64,
        rc_limit: u64,
        block_id: Option<&[u8]>,
    ) -> Result<bool, MempoolError> {
        if block_id.is_some() {
            let set = self.node(block_id, "check pending account resources")?;
            return Ok(set.check_resources(payer, max_payer_rc, rc_limit));
        }
        Ok(self.fork_heads().iter().all(|id| {
            self.nodes[id]
                .pending
                .check_resources(payer, max_payer_rc, rc_limit)
        }))
    }

    /// Whether the nonce is free: on the given fork, or on at least one fork.
    pub fn check_account_nonce(
        &self,
        payee: &[u8],
        nonce: &[u8],
        block_id: Option<&[u8]>,
    ) -> Result<bool, MempoolError> {
        let key: NonceKey = (payee.to_vec(), decode_nonce(nonce)?);
        if block_id.is_some() {
            let set = self.node(block_id, "check pending account resources")?;
            return Ok(set.nonce_free(&key));
        }
        Ok(self.nodes.values().any(|n| n.pending.nonce_free(&key)))
    }

    /// The highest RC the account's pending transactions reserve on any fork.
    pub fn reserved_account_rc(&self, account: &[u8]) -> u64 {
        self.nodes
            .values()
            .map(|n| n.pending.reserved_rc(account))
            .max()
            .unwrap_or(0)
    }

    /// The account's highest pending nonce on the fork, if any is pending.
    pub fn pending_nonce(
        &self,
        account: &[u8],
        block_id: Option<&[u8]>,
    ) -> Result<Option<u64>, MempoolError> {
        Ok(self
            .node(block_id, "check pending nonce")?
            .pending_nonce(account))
    }

    /// How many of the account's transactions are pending on the fork.
    pub fn pending_transaction_count(
        &self,
        account: &[u8],
        block_id: Option<&[u8]>,
    ) -> Result<u64, MempoolError> {
        Ok(self
            .node(block_id, "check pending nonce")?
            .pending_count(account) as u64)
    }

    /// Number of pending transactions on the head fork.
    pub fn head_pending_count(&self) -> usize {
        self.nodes[&self.head].pending.len()
    }
}

fn block_height(accepted: &BlockAccepted) -> u64 {
    accepted
        .block
        .as_ref()
        .and_then(|b| b.header.as_ref())
        .map_or(0, |h| h.height)
}
