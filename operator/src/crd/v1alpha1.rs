//! `koinos.io/v1alpha1` `KoinosCluster`.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::amqp::AmqpSpec;
use super::extra::ExtraServiceSpec;
use super::monitoring::MonitoringSpec;
use super::network::NetworkSpec;
use super::pod::PodOverrides;
use super::service::ServicesSpec;
pub use super::status::KoinosClusterStatus;

// The printcolumn attributes repeat `type_` by design.
#[allow(clippy::duplicated_attributes)]
/// A Koinos node cluster: a broker plus the Koinos microservices, each scaled by class.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "koinos.io",
    version = "v1alpha1",
    kind = "KoinosCluster",
    namespaced,
    status = "KoinosClusterStatus",
    shortname = "kc",
    category = "koinos",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Height",
        type_ = "integer",
        json_path = ".status.chain.headHeight"
    ),
    printcolumn(
        name = "LIB",
        type_ = "integer",
        json_path = ".status.chain.lastIrreversibleBlock"
    ),
    printcolumn(name = "Lag", type_ = "string", json_path = ".status.chain.lag"),
    printcolumn(
        name = "Services",
        type_ = "string",
        json_path = ".status.servicesReady"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct KoinosClusterSpec {
    /// The chain to run: `mainnet`, `harbinger`, `genesis` (another network) or `devnet`.
    /// Immutable: the cluster's volumes hold that one chain.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.network is immutable once set: a cluster cannot switch networks (its volumes hold one chain); create another KoinosCluster"))]
    pub network: NetworkSpec,
    /// Image of the Koinos services (one image, one binary per service).
    #[serde(default)]
    pub image: ImageSpec,
    #[serde(default)]
    pub cluster_operation: ClusterOperation,
    /// The message broker.
    #[serde(default)]
    pub amqp: AmqpSpec,
    /// Extra config merged into each service's `config.yml`: `global` plus sections named like
    /// the official config (`chain`, `block_store`, `jsonrpc`, ...), with official key names.
    /// Unknown sections and the keys the operator sets itself (flags, mounts, ports, Secrets)
    /// are refused (Stalled, naming the key): `amqp`, `amqp-ca-file`, `basedir`, `instance-id`,
    /// `metrics-address`, `genesis-data`, `private-key-file`, `statedir`, `listen`, `endpoint`,
    /// `seed`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::crd::pod::config_sections")]
    pub config: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub services: ServicesSpec,
    /// The user's own consumers of the cluster's broker, run beside the Koinos services (see
    /// `ExtraServiceSpec`); keyed by `name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub extra_services: Vec<ExtraServiceSpec>,
    /// Cluster-wide pod overrides; each service's own `podOverrides` wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_overrides: Option<PodOverrides>,
    /// Prometheus scraping (a PodMonitor of the Prometheus Operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,
}

/// The services image: `<repository>:<tag>`, binaries `koinos-<service>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    #[serde(default = "default_repository")]
    pub repository: String,
    #[serde(default = "default_tag")]
    pub tag: String,
    #[serde(default = "default_pull_policy")]
    pub pull_policy: PullPolicy,
    /// Secrets for pulling private images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<String>,
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            repository: default_repository(),
            tag: default_tag(),
            pull_policy: default_pull_policy(),
            pull_secrets: Vec::new(),
        }
    }
}

pub const DEFAULT_SERVICES_REPOSITORY: &str = "ghcr.io/koinos-operator/koinos-services";

fn default_repository() -> String {
    DEFAULT_SERVICES_REPOSITORY.into()
}
fn default_tag() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}
fn default_pull_policy() -> PullPolicy {
    PullPolicy::IfNotPresent
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Operational switches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterOperation {
    /// Stop writing to the cluster's children (status still updates).
    #[serde(default)]
    pub reconciliation_paused: bool,
    /// Scale every workload to zero, keeping volumes, Secrets and config.
    #[serde(default)]
    pub stopped: bool,
}
