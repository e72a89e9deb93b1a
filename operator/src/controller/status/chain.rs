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
