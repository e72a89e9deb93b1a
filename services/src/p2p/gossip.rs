//! Gossip settings and the gossip switch.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest, Sha256};

/// Topic of serialized `protocol.block`s.
pub const BLOCKS_TOPIC: &str = "koinos.blocks";
/// Topic of serialized `protocol.transaction`s.
pub const TRANSACTIONS_TOPIC: &str = "koinos.transactions";
/// Largest gossip message (go-libp2p-pubsub's default `DefaultMaxMessageSize`).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// How long message ids are remembered (official pubsub time cache).
pub const SEEN_TTL: Duration = Duration::from_secs(30);

/// The official message id: base64 (standard alphabet, no padding) of sha256(data), so the
/// same block or transaction from two sources is one message.
pub fn message_id(data: &[u8]) -> String {
    STANDARD_NO_PAD.encode(Sha256::digest(data))
}

/// The gossip switch (official `GossipToggle`): forced on or off by the options, else on while
/// there is at least one peer and the head block is at most `GOSSIP_HEAD_AGE` old.
pub fn gossip_enabled(
    force: bool,
    disable: bool,
    peers: usize,
    head_time_ms: u64,
    now_ms: u64,
    max_age: Duration,
) -> bool {
    if force {
        return true;
    }
    if disable {
        return false;
    }
    peers > 0 && now_ms.saturating_sub(head_time_ms) <= max_age.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_unpadded_standard_base64_of_sha256() {
        // sha256("") = e3b0c442...; 32 bytes give 43 characters without padding
        let id = message_id(b"");
        assert_eq!(id, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
        assert_eq!(id.len(), 43);
    }

    #[test]
    fn switch_follows_peers_and_head_age() {
        let age = Duration::from_secs(45);
        let now = 1_000_000;
        assert!(!gossip_enabled(false, false, 0, now, now, age));
        assert!(gossip_enabled(false, false, 1, now - 45_000, now, age));
        assert!(!gossip_enabled(false, false, 1, now - 45_001, now, age));
        assert!(gossip_enabled(true, false, 0, 0, now, age));
        assert!(!gossip_enabled(false, true, 3, now, now, age));
    }
}

/// Gossiped blocks whose parent the chain does not know yet, by parent id: applied once the
/// parent is (the official applicator holds them the same way), forgotten after
/// [`ORPHAN_TTL`], at most [`MAX_ORPHANS`].
#[derive(Debug, Default)]
pub struct Orphans<B> {
    by_parent: std::collections::HashMap<Vec<u8>, Vec<(std::time::Instant, B)>>,
    count: usize,
}

/// How long an orphan block is kept.
pub const ORPHAN_TTL: Duration = Duration::from_secs(60);
/// Most orphan blocks kept.
pub const MAX_ORPHANS: usize = 256;

impl<B> Orphans<B> {
    /// Keeps `block` until `parent` is applied; false when full.
    pub fn insert(&mut self, parent: Vec<u8>, block: B, now: std::time::Instant) -> bool {
        self.expire(now);
        if self.count >= MAX_ORPHANS {
            return false;
        }
        self.by_parent.entry(parent).or_default().push((now, block));
        self.count += 1;
        true
    }

    /// The blocks waiting for `parent`, removed.
    pub fn take_children(&mut self, parent: &[u8], now: std::time::Instant) -> Vec<B> {
        self.expire(now);
        let children = self.by_parent.remove(parent).unwrap_or_default();
        self.count -= children.len();
        children.into_iter().map(|(_, b)| b).collect()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn expire(&mut self, now: std::time::Instant) {
        let mut removed = 0;
        self.by_parent.retain(|_, blocks| {
            let before = blocks.len();
            blocks.retain(|(at, _)| now.saturating_duration_since(*at) < ORPHAN_TTL);
            removed += before - blocks.len();
            !blocks.is_empty()
        });
        self.count -= removed;
    }
}

/// Most ids [`SyncedIds`] remembers: four sync batches, far more than the chain's
/// announcements can lag behind the batch that applied them.
pub const MAX_SYNCED_IDS: usize = 4 * super::config::BLOCK_BATCH as usize;

/// The ids of the blocks sync applied, the most recent [`MAX_SYNCED_IDS`]. The chain announces
/// them like any block and the mempool relays the announcement to p2p, which must not gossip
/// them: the peer they came from holds them and its other peers sync them the same way. While
/// the head is recent (gossip on) a syncing node otherwise published its whole catch-up back
/// to the peer, which scored each block below its LIB as an offence and, past ~1000 blocks,
/// banned the node.
#[derive(Debug, Default)]
pub struct SyncedIds {
    order: std::collections::VecDeque<Vec<u8>>,
    ids: std::collections::HashSet<Vec<u8>>,
}

impl SyncedIds {
    pub fn insert(&mut self, id: Vec<u8>) {
        if !self.ids.insert(id.clone()) {
            return;
        }
        self.order.push_back(id);
        if self.order.len() > MAX_SYNCED_IDS
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
    }

    pub fn contains(&self, id: &[u8]) -> bool {
        self.ids.contains(id)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod orphan_tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn orphans_wait_for_their_parent_expire_and_are_bounded() {
        let mut orphans = Orphans::default();
        let t0 = Instant::now();
        assert!(orphans.insert(vec![1], "b2", t0));
        assert!(orphans.insert(vec![1], "b2'", t0));
        assert!(orphans.insert(vec![2], "b3", t0));
        assert_eq!(orphans.take_children(&[1], t0), vec!["b2", "b2'"]);
        assert_eq!(orphans.len(), 1);
        assert!(orphans.take_children(&[1], t0).is_empty());
        assert!(orphans.take_children(&[2], t0 + ORPHAN_TTL).is_empty());
        assert!(orphans.is_empty());
        for _ in 0..MAX_ORPHANS {
            assert!(orphans.insert(vec![9], "x", t0));
        }
        assert!(!orphans.insert(vec![9], "y", t0));
    }

    #[test]
    fn synced_ids_remember_the_most_recent() {
        let mut synced = SyncedIds::default();
        for i in 0..MAX_SYNCED_IDS as u32 + 10 {
            synced.insert(i.to_be_bytes().to_vec());
        }
        synced.insert(20u32.to_be_bytes().to_vec()); // already there: no change
        assert_eq!(synced.len(), MAX_SYNCED_IDS);
        assert!(!synced.contains(&9u32.to_be_bytes()));
        assert!(synced.contains(&10u32.to_be_bytes()));
        assert!(synced.contains(&(MAX_SYNCED_IDS as u32 + 9).to_be_bytes()));
    }
}
