//! `status` of a KoinosCluster: derived, deterministic, no per-pass timestamps.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KoinosClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, Available, BrokerReady, ReconciliationPaused,
    /// ChainReachable, Synced, Progressing, and Monitoring while spec.monitoring.podMonitor is
    /// enabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Per enabled service, keyed by its spec name (`blockStore`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceStatus>,
    /// Ready services over enabled services, e.g. `7/7` (printer column SERVICES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services_ready: Option<String>,
    /// The chain's head as reported by the cluster's chain service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainStatus>,
    /// This node's p2p identity, for another cluster's `services.p2p.seeds`. Set when p2p
    /// runs the koinos-services image, whose key the operator derives from the generated seed
    /// (the official image derives its own, which cannot be predicted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<P2pStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct P2pStatus {
    /// The libp2p peer id (`Qm...`).
    pub peer_id: String,
    /// The multiaddr other pods of the Kubernetes cluster dial:
    /// `/dns4/<cluster>-p2p.<namespace>.svc/tcp/8888/p2p/<peerId>`.
    pub address: String,
    /// The multiaddr peers outside the Kubernetes cluster dial (`spec.services.p2p.announce`,
    /// or the address p2p's LoadBalancer is assigned, with `/p2p/<peerId>`), for another
    /// cluster's `spec.services.p2p.seeds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_address: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// Replicas asked for (by spec or by the autoscaler).
    pub desired_replicas: i32,
    pub ready_replicas: i32,
    pub image: String,
    /// Depth of `koinos.rpc.<service>` when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<i64>,
}

// Field docs here are CRD schema descriptions (crds/koinoscluster.yaml); semantics of
// `chain` (last successful read kept) are documented in controller::status::chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainStatus {
    // Schema as int64: the API server knows no `uint64` format and warns on every CRD apply;
    // heights stay far below 2^63.
    #[schemars(with = "i64")]
    pub head_height: u64,
    pub head_id: String,
    #[schemars(with = "i64")]
    pub last_irreversible_block: u64,
    /// Timestamp of the head block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_block_time: Option<Time>,
    /// How far the head block's time was behind the operator's clock when the head was read,
    /// coarsely (`12s`, `5m`, `3h12m`, `4d3h`; printer column LAG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<String>,
    /// The chain id the chain service reports (URL-safe base64 of the multihash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<String>,
}
