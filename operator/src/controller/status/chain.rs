//! `status.chain`, per-service `queueDepth` and the `ChainReachable` condition, from what the
//! operator read on the cluster's own broker this pass.
//!
//! - A successful `get_head_info` replaces `status.chain`. When the read fails (or the cluster
//!   is stopped) the last head read is kept: heights only grow, so it is a true "at least";
//!   `ChainReachable` says whether it is current.
//! - `queueDepth` is the current backlog or nothing: a depth that could not be read is
//!   cleared, never shown stale.
//! - Condition messages are stable (no error text, no timestamps), so a broker that stays
//!   down does not rewrite the status every pass; the varying detail goes to an Event.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::broker::{ClusterReading, ReadFailure};
use crate::crd::status::ChainStatus;

pub const CHAIN_REACHABLE: &str = "ChainReachable";

/// What this pass learned from the cluster's broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerObservation {
    /// `clusterOperation.stopped`: nothing runs, nothing read.
    Stopped,
    /// The managed RabbitMQ has no ready node: not worth a connection attempt.
    BrokerNotReady,
    /// Read (successfully or not).
    Read(ClusterReading),
}

impl BrokerObservation {
    /// The chain's head, when read this pass.
    pub fn head(&self) -> Option<&ChainStatus> {
        match self {
            Self::Read(ClusterReading {
                head: Some(Ok(head)),
                ..
            }) => Some(head),
            _ => None,
        }
    }

    /// The failure of this pass's head read.
    pub fn failure(&self) -> Option<&ReadFailure> {
        match self {
            Self::Read(ClusterReading {
                head: Some(Err(failure)),
                ..
            }) => Some(failure),
            _ => None,
        }
    }

    /// Depth by spec name of every queue read this pass.
    pub fn queue_depths(&self) -> BTreeMap<String, u64> {
        match self {
            Self::Read(reading) => reading.queue_depths.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// `(status, reason, message)` of `ChainReachable`.
    pub fn condition(&self) -> (bool, &'static str, String) {
        match self {
            Self::Stopped => (false, "Stopped", "the cluster is stopped".into()),
            Self::BrokerNotReady => (
                false,
                "BrokerNotReady",
                "the cluster's RabbitMQ has no ready node".into(),
            ),
            Self::Read(ClusterReading { head: None, .. }) => (
                false,
                "ChainDisabled",
                "spec.services.chain is disabled".into(),
            ),
            Self::Read(ClusterReading {
                head: Some(Ok(_)), ..
            }) => (
                true,
                "HeadRead",
                "the chain service answered get_head_info".into(),
            ),
            Self::Read(ClusterReading {
                head: Some(Err(failure)),
                ..
            }) => (false, failure.reason(), failure.message()),
        }
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;

pub const SYNCED: &str = "Synced";
pub const PROGRESSING: &str = "Progressing";

/// The head counts as current when its block is at most this far behind the operator's clock.
/// Koinos produces a block every ~3 s and the official p2p turns gossip on once the head is
/// within 45 s of now (its own "synced"); 60 s is that plus room for clock skew between the
/// producers and this node and for a missed slot or two, so a node p2p calls synced is Synced
/// here too, and one that is a minute behind is not.
pub const SYNC_THRESHOLD_SECONDS: i64 = 60;

/// Seconds from the head block's time to `now` (0 when the block is from the future), if the
/// head's time is known.
pub fn lag_seconds(head: &ChainStatus, now: &Time) -> Option<i64> {
    let block = head.head_block_time.as_ref()?;
    Some((now.0.as_second() - block.0.as_second()).max(0))
}

/// A lag as people read it, coarse enough that a chain stuck far behind does not change it
/// every pass: `12s`, `5m`, `3h12m`, `4d3h`.
pub fn format_lag(seconds: i64) -> String {
    let (m, h, d) = (60, 3600, 86_400);
    match seconds {
        s if s < m => format!("{s}s"),
        s if s < h => format!("{}m", s / m),
        s if s < d => format!("{}h{}m", s / h, (s % h) / m),
        s => format!("{}d{}h", s / d, (s % d) / h),
    }
}

/// Whether the chain is current, from this pass's read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sync {
    /// The head is within [`SYNC_THRESHOLD_SECONDS`] of the clock.
    Current,
    /// Behind: still catching up.
    Behind { height: u64, lag: String },
    /// Not known this pass: `(reason, message)`.
    Unknown(&'static str, String),
}

/// From this pass's broker observation and the merged `status.chain` (lag set when the head
/// was read now); `None` when the broker was not read (the last conditions stand).
pub fn sync(
    broker: Option<&BrokerObservation>,
    chain: Option<&ChainStatus>,
    now: &Time,
) -> Option<Sync> {
    let broker = broker?;
    Some(match (broker.head(), chain) {
        (Some(_), Some(chain)) => match lag_seconds(chain, now) {
            Some(lag) if lag <= SYNC_THRESHOLD_SECONDS => Sync::Current,
            Some(lag) => Sync::Behind {
                height: chain.head_height,
                lag: format_lag(lag),
            },
            None => Sync::Unknown(
                "NoHeadBlockTime",
                "the chain service reported no head block time".into(),
            ),
        },
        _ => {
            let (_, reason, _) = broker.condition();
            Sync::Unknown(
                reason,
                "the chain's head could not be read this pass (see ChainReachable)".into(),
            )
        }
    })
}
