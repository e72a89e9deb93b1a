//! The tree of reversible blocks above the last irreversible block (LIB), with the head chosen
//! by the `fork-algorithm` as the official state_db does: a block must link to the LIB or to a
//! known block, and fork choice runs as each block arrives ([`crate::chain::fork`]).

use std::collections::HashMap;

use crate::chain::fork::{BlockInfo, ForkAlgorithm, choose_head};

/// What happened to a block offered to the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Added; the head is now `head_changed` and, if it changed, the new head `extends` the
    /// previous one (its parent was the head).
    Added { head_changed: bool, extends: bool },
    /// Already known (or the LIB itself).
    Duplicate,
    /// Its parent is unknown (a gap, or a block below the LIB).
    Unlinked,
}

/// The result of making a block irreversible.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The blocks that became irreversible, lowest first, ending with the new LIB.
    pub committed: Vec<Vec<u8>>,
    /// Blocks dropped because they are not descendants of the new LIB.
    pub pruned: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct ForkTree {
    algorithm: ForkAlgorithm,
    root: BlockInfo,
    /// Reversible blocks by id, with their arrival number (fifo order).
    blocks: HashMap<Vec<u8>, (u64, BlockInfo)>,
    head: Vec<u8>,
    arrivals: u64,
}

impl ForkTree {
    /// A tree whose LIB is `root`.
    pub fn new(algorithm: ForkAlgorithm, root: BlockInfo) -> Self {
        Self {
            algorithm,
            head: root.id.clone(),
            root,
            blocks: HashMap::new(),
            arrivals: 0,
        }
    }

    pub fn root(&self) -> &BlockInfo {
        &self.root
    }

    pub fn head(&self) -> &BlockInfo {
        self.get(&self.head).expect("the head is known")
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The LIB or a reversible block.
    pub fn get(&self, id: &[u8]) -> Option<&BlockInfo> {
        if id == self.root.id {
            return Some(&self.root);
        }
        self.blocks.get(id).map(|(_, b)| b)
    }

    pub fn contains(&self, id: &[u8]) -> bool {
        self.get(id).is_some()
    }

    /// What [`ForkTree::insert`] would do, without doing it.
    pub fn check(&self, block: &BlockInfo) -> Option<Link> {
        if self.contains(&block.id) {
            Some(Link::Duplicate)
        } else if !self.contains(&block.previous) {
            Some(Link::Unlinked)
        } else {
            None
        }
    }

    /// Adds `block` and runs fork choice.
    pub fn insert(&mut self, block: BlockInfo) -> Link {
        if let Some(refused) = self.check(&block) {
            return refused;
        }
        let old_head = self.head.clone();
        let new_head = {
            let head = self.head();
            let leaves = if self.algorithm == ForkAlgorithm::Pob {
                self.leaves_with(&block)
            } else {
                Vec::new()
            };
            let head_parent = self
                .blocks
                .contains_key(&head.id)
                .then(|| self.get(&head.previous))
                .flatten();
            choose_head(self.algorithm, head, &block, &leaves, head_parent)
        };
        self.arrivals += 1;
        self.blocks
            .insert(block.id.clone(), (self.arrivals, block.clone()));
        self.head = new_head;
        let head_changed = self.head != old_head;
        Link::Added {
            head_changed,
            extends: head_changed && self.head == block.id && block.previous == old_head,
        }
    }

    /// The leaves of the tree once `new` is added.
    fn leaves_with<'a>(&'a self, new: &'a BlockInfo) -> Vec<&'a BlockInfo> {
        let mut all: Vec<&BlockInfo> = self.blocks.values().map(|(_, b)| b).collect();
        all.push(new);
        let parents: std::collections::HashSet<&[u8]> =
            all.iter().map(|b| b.previous.as_slice()).collect();
        all.into_iter()
            .filter(|b| !parents.contains(b.id.as_slice()))
            .collect()
    }

    /// The reversible blocks from just above the LIB up to `id`, lowest first (empty for the
    /// LIB; `None` for an unknown id).
    pub fn branch(&self, id: &[u8]) -> Option<Vec<&BlockInfo>> {
        let mut branch = Vec::new();
        let mut current = id;
        while current != self.root.id.as_slice() {
            let (_, block) = self.blocks.get(current)?;
            branch.push(block);
            current = &block.previous;
        }
        branch.reverse();
        Some(branch)
    }

    /// The head's branch (see [`ForkTree::branch`]).
    pub fn head_branch(&self) -> Vec<&BlockInfo> {
        self.branch(&self.head).expect("the head links to the LIB")
    }

    /// Makes reversible block `id` the LIB: its branch becomes irreversible and every block
    /// that does not descend from it is pruned. `None` (nothing changes) if `id` is not a
    /// reversible block.
    pub fn commit(&mut self, id: &[u8]) -> Option<Commit> {
        if !self.blocks.contains_key(id) {
            return None;
        }
        let committed: Vec<Vec<u8>> = self.branch(id)?.iter().map(|b| b.id.clone()).collect();
        let new_root = self.blocks[id].1.clone();
        let pruned: Vec<Vec<u8>> = self
            .blocks
            .values()
            .map(|(_, b)| b)
            .filter(|b| !committed.contains(&b.id) && !self.descends_from(b, id))
            .map(|b| b.id.clone())
            .collect();
        for gone in committed.iter().chain(&pruned) {
            self.blocks.remove(gone);
        }
        self.root = new_root;
        if !self.contains(&self.head) || self.head_branch_misses_root() {
            self.replay_fork_choice();
        }
        Some(Commit { committed, pruned })
    }

    fn descends_from(&self, block: &BlockInfo, ancestor: &[u8]) -> bool {
        let mut current = block.previous.as_slice();
        while let Some((_, parent)) = self.blocks.get(current) {
            if parent.id == ancestor {
                return true;
            }
            current = &parent.previous;
        }
        current == ancestor
    }

    fn head_branch_misses_root(&self) -> bool {
        self.branch(&self.head).is_none()
    }

    /// The head as if the surviving blocks had arrived again in their original order.
    fn replay_fork_choice(&mut self) {
        let mut survivors: Vec<(u64, BlockInfo)> = self.blocks.drain().map(|(_, v)| v).collect();
        survivors.sort_by_key(|(arrival, _)| *arrival);
        self.head = self.root.id.clone();
        for (_, block) in survivors {
            self.insert(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: u8, previous: u8, height: u64, timestamp: u64) -> BlockInfo {
        BlockInfo {
            id: vec![id],
            previous: vec![previous],
            height,
            timestamp,
            signer: vec![1],
            state_merkle_root: Vec::new(),
        }
    }

    fn tree(algorithm: ForkAlgorithm) -> ForkTree {
        ForkTree::new(algorithm, block(0, 0xff, 0, 0))
    }

    #[test]
    fn fifo_keeps_the_first_block_at_the_highest_height() {
        let mut t = tree(ForkAlgorithm::Fifo);
        assert_eq!(
            t.insert(block(1, 0, 1, 10)),
            Link::Added {
                head_changed: true,
                extends: true
            }
        );
        assert_eq!(
            t.insert(block(2, 0, 1, 5)),
            Link::Added {
                head_changed: false,
                extends: false
            }
        );
        assert_eq!(t.head().id, vec![1]);
        // Fork 2 grows higher: it becomes the head (a switch, not an extension).
        assert_eq!(
            t.insert(block(3, 2, 2, 20)),
            Link::Added {
                head_changed: true,
                extends: false
            }
        );
        let ids: Vec<_> = t.head_branch().iter().map(|b| b.id[0]).collect();
        assert_eq!(ids, vec![2, 3]);
        assert_eq!(t.insert(block(3, 2, 2, 20)), Link::Duplicate);
        assert_eq!(t.insert(block(0, 0xff, 0, 0)), Link::Duplicate);
        assert_eq!(t.insert(block(9, 8, 5, 0)), Link::Unlinked);
    }

    #[test]
    fn block_time_prefers_the_earlier_block_at_equal_height() {
        let mut t = tree(ForkAlgorithm::BlockTime);
        t.insert(block(1, 0, 1, 10));
        t.insert(block(2, 0, 1, 5));
        assert_eq!(t.head().id, vec![2]);
    }

    #[test]
    fn pob_double_production_hands_the_head_to_another_fork() {
        let mut t = tree(ForkAlgorithm::Pob);
        t.insert(block(1, 0, 1, 10));
        t.insert(block(2, 1, 2, 20));
        // The same signer produces a second block at height 2: the head loses its place to
        // the other fork head, which outranks the head's parent.
        assert_eq!(
            t.insert(block(3, 1, 2, 30)),
            Link::Added {
                head_changed: true,
                extends: false
            }
        );
        let ids: Vec<_> = t.head_branch().iter().map(|b| b.id[0]).collect();
        assert_eq!(ids, vec![1, 3]);
    }

    #[test]
    fn commit_moves_the_lib_and_prunes_the_losing_forks() {
        let mut t = tree(ForkAlgorithm::Fifo);
        t.insert(block(1, 0, 1, 10));
        t.insert(block(2, 1, 2, 10));
        t.insert(block(3, 1, 2, 11)); // fork at height 2
        t.insert(block(4, 3, 3, 12)); // fork 3-4 wins
        t.insert(block(5, 2, 3, 12));
        assert_eq!(t.head().id, vec![4]);
        assert_eq!(t.commit(&[7]), None);
        let commit = t.commit(&[3]).unwrap();
        assert_eq!(commit.committed, vec![vec![1], vec![3]]);
        let mut pruned = commit.pruned.clone();
        pruned.sort();
        assert_eq!(pruned, vec![vec![2], vec![5]]);
        assert_eq!(t.root().id, vec![3]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.head().id, vec![4]);
        assert_eq!(t.insert(block(6, 2, 3, 0)), Link::Unlinked, "pruned parent");
    }

    #[test]
    fn a_head_left_off_the_new_lib_is_chosen_again_among_the_survivors() {
        let mut t = tree(ForkAlgorithm::Fifo);
        t.insert(block(1, 0, 1, 10));
        t.insert(block(2, 1, 2, 10));
        t.insert(block(3, 0, 1, 10));
        t.insert(block(4, 3, 2, 10));
        t.insert(block(5, 4, 3, 10)); // head on fork 3-4-5
        assert_eq!(t.head().id, vec![5]);
        // The chain made block 1 irreversible: fork 3 is pruned and 2 becomes the head.
        t.commit(&[1]).unwrap();
        assert_eq!(t.head().id, vec![2]);
        t.commit(&[2]).unwrap();
        assert_eq!(t.head().id, vec![2]);
        assert!(t.head_branch().is_empty());
    }
}
