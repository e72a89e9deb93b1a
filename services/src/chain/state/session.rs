//! A writable view of the state at one block: reads fall through the frames, then the
//! unfinalized ancestors' deltas, then the committed (irreversible) table.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use redb::ReadOnlyTable;

use crate::chain::error::ChainResult;

/// A block's (or transaction's) writes over its parent: state key -> new value, `None` = removed.
pub type Delta = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

pub(crate) type CommittedTable = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A finalized, not yet irreversible block's writes.
#[derive(Debug)]
pub struct StateNode {
    pub info: crate::chain::fork::BlockInfo,
    pub delta: Delta,
}

/// State as seen from a new block built on `ancestors[0]`, with a stack of write frames
/// (block, transaction, operation) that can each be kept or discarded.
pub struct StateSession {
    /// Unfinalized ancestors, nearest first; the committed table lies below the last one.
    ancestors: Vec<Arc<StateNode>>,
    committed: Arc<CommittedTable>,
    frames: Vec<Delta>,
}

impl StateSession {
    pub(crate) fn new(ancestors: Vec<Arc<StateNode>>, committed: Arc<CommittedTable>) -> Self {
        Self {
            ancestors,
            committed,
            frames: vec![Delta::new()],
        }
    }

    /// The current value under a state key (see [`super::state_key`]).
    pub fn get(&self, key: &[u8]) -> ChainResult<Option<Vec<u8>>> {
        for frame in self.frames.iter().rev() {
            if let Some(value) = frame.get(key) {
                return Ok(value.clone());
            }
        }
        self.get_below_frames(key)
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.top().insert(key, Some(value));
    }

    /// Removes a key; removing an absent key changes nothing.
    pub fn remove(&mut self, key: Vec<u8>) -> ChainResult<()> {
        if self.get(&key)?.is_some() {
            self.top().insert(key, None);
        }
        Ok(())
    }

    fn top(&mut self) -> &mut Delta {
        self.frames
            .last_mut()
            .expect("a session always has its base frame")
    }

    /// Starts a frame whose writes can be discarded (a transaction or its operations).
    pub fn push_frame(&mut self) {
        self.frames.push(Delta::new());
    }

    /// Keeps the top frame's writes (merged into the frame below) and returns them.
    pub fn commit_frame(&mut self) -> Delta {
        let top = self.frames.pop().expect("commit_frame without push_frame");
        assert!(!self.frames.is_empty(), "commit_frame without push_frame");
        let below = self.top();
        for (key, value) in &top {
            below.insert(key.clone(), value.clone());
        }
        top
    }

    /// The writes of the top frame.
    pub fn top_frame(&self) -> &Delta {
        self.frames.last().expect("a session always has a frame")
    }

    fn get_below_frames(&self, key: &[u8]) -> ChainResult<Option<Vec<u8>>> {
        for node in &self.ancestors {
            if let Some(value) = node.delta.get(key) {
                return Ok(value.clone());
            }
        }
        Ok(self.committed.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Drops the top frame's writes.
    pub fn discard_frame(&mut self) {
        assert!(self.frames.len() > 1, "discard_frame without push_frame");
        self.frames.pop();
    }

    /// Key/value pairs with `start <= key < end`, merged across all layers, in key order.
    pub fn range(&self, start: &[u8], end: &[u8]) -> ChainResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for entry in self.committed.range::<&[u8]>(start..end)? {
            let (k, v) = entry?;
            merged.insert(k.value().to_vec(), Some(v.value().to_vec()));
        }
        let bounds = (
            Bound::Included(start.to_vec()),
            Bound::Excluded(end.to_vec()),
        );
        let layers = self.ancestors.iter().rev().map(|n| &n.delta);
        for layer in layers.chain(self.frames.iter()) {
            for (k, v) in layer.range::<Vec<u8>, _>(bounds.clone()) {
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// All writes of this session, frames flattened.
    pub fn into_delta(mut self) -> Delta {
        while self.frames.len() > 1 {
            self.commit_frame();
        }
        self.frames.pop().unwrap_or_default()
    }
}
