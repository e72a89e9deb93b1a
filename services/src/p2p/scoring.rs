//! Peer error scores (the official `PeerErrorHandler` defaults): each offence adds to a peer's
//! score, which halves every ten minutes; a peer whose score passes the threshold is
//! disconnected and refused until its score has decayed below it.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Score above which a peer is disconnected (official `ErrorScoreThreshold`).
pub const THRESHOLD: f64 = 100_000.0;
/// Half-life of a score (official `ErrorScoreDecayHalflife`).
pub const HALF_LIFE: Duration = Duration::from_secs(600);

/// What a peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// Bytes that do not decode (gossip message, peer RPC request or answer).
    Deserialization,
    /// A block the chain refused.
    BlockApplication,
    /// A block below our last irreversible block.
    BlockIrreversibility,
    /// A transaction the chain refused.
    TransactionApplication,
    /// Another chain.
    ChainIdMismatch,
    /// A chain without our checkpoint.
    CheckpointMismatch,
    /// A chain that does not contain our last irreversible block.
    ChainNotConnected,
    /// A peer RPC that failed.
    PeerRpc,
    /// A peer RPC that timed out.
    PeerRpcTimeout,
    /// An identify protocol version other than `koinos/p2p/*`.
    WrongProtocol,
}

impl Offence {
    /// The official default score of the offence.
    pub fn score(self) -> f64 {
        match self {
            Offence::Deserialization | Offence::BlockApplication => 5000.0,
            Offence::BlockIrreversibility => 100.0,
            Offence::TransactionApplication | Offence::PeerRpc | Offence::PeerRpcTimeout => 1000.0,
            Offence::ChainIdMismatch
            | Offence::CheckpointMismatch
            | Offence::ChainNotConnected
            | Offence::WrongProtocol => f64::from(u32::MAX),
        }
    }
}

/// The scores of all peers.
#[derive(Debug)]
pub struct Scores<K> {
    scores: HashMap<K, (f64, Instant)>,
}

impl<K: Hash + Eq + Clone> Default for Scores<K> {
    fn default() -> Self {
        Self {
            scores: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Scores<K> {
    /// The peer's score at `now`.
    pub fn score(&self, peer: &K, now: Instant) -> f64 {
        self.scores.get(peer).map_or(0.0, |(score, at)| {
            decayed(*score, now.saturating_duration_since(*at))
        })
    }

    /// Adds the offence; true when the peer is now above the threshold (disconnect it).
    pub fn record(&mut self, peer: &K, offence: Offence, now: Instant) -> bool {
        let score = self.score(peer, now) + offence.score();
        self.scores.insert(peer.clone(), (score, now));
        // forget peers whose score has decayed to nothing
        if self.scores.len() > 1024 {
            self.scores
                .retain(|_, (s, at)| decayed(*s, now.saturating_duration_since(*at)) > 1.0);
        }
        score > THRESHOLD
    }

    /// True while the peer's score is above the threshold (refuse its connections).
    pub fn is_banned(&self, peer: &K, now: Instant) -> bool {
        self.score(peer, now) > THRESHOLD
    }
}

fn decayed(score: f64, elapsed: Duration) -> f64 {
    score * 0.5f64.powf(elapsed.as_secs_f64() / HALF_LIFE.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_add_decay_and_ban() {
        let mut scores = Scores::default();
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(!scores.record(&"p", Offence::Deserialization, t0));
        }
        assert_eq!(scores.score(&"p", t0), 100_000.0);
        assert!(!scores.is_banned(&"p", t0));
        assert!(scores.record(&"p", Offence::Deserialization, t0));
        assert!(scores.is_banned(&"p", t0));
        // one half-life later the score is halved and the peer is welcome again
        let later = t0 + HALF_LIFE;
        assert!((scores.score(&"p", later) - 52_500.0).abs() < 1.0);
        assert!(!scores.is_banned(&"p", later));
        assert_eq!(scores.score(&"q", t0), 0.0);
    }

    #[test]
    fn a_wrong_chain_is_banned_at_once() {
        let mut scores = Scores::default();
        let now = Instant::now();
        assert!(scores.record(&1, Offence::ChainIdMismatch, now));
        assert!(scores.is_banned(&1, now + HALF_LIFE * 10));
        assert!(!scores.is_banned(&1, now + HALF_LIFE * 20));
    }
}
