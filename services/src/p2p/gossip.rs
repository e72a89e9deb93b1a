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
