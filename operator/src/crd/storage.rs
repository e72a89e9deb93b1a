//! Persistent storage of a store, the chain or the broker.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A volume per replica. Volumes can grow (where the StorageClass allows expansion) but never
/// shrink, and their class cannot change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(oldSelf.size) || (has(self.size) && quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0)").message("storage.size can only grow: volumes cannot shrink"),
    validation = Rule::new("has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)").message("storage.storageClassName is immutable")
)]
pub struct StorageSpec {
    /// Volume size per replica (a Kubernetes quantity, e.g. `100Gi`); the default depends on
    /// the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("isQuantity(self)").message("storage.size must be a quantity such as 100Gi"))]
    pub size: Option<String>,
    /// StorageClass of the volumes; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// What happens to the volumes when the KoinosCluster is deleted.
    #[serde(default)]
    pub retention_policy: RetentionPolicy,
}

/// PVC retention on deletion of the KoinosCluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RetentionPolicy {
    /// Keep the volumes (default): a re-created cluster of the same name finds its data.
    #[default]
    Retain,
    /// Delete the volumes with the cluster.
    Delete,
}

impl RetentionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retain => "Retain",
            Self::Delete => "Delete",
        }
    }
}
