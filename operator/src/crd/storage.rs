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
    /// Where a new volume's data comes from: a VolumeSnapshot (CSI snapshot API) or a clone of
    /// another PersistentVolumeClaim, in the cluster's namespace. It seeds volumes only when
    /// they are created (a fresh cluster, a replica added by scaling up); existing volumes keep
    /// their data when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<VolumeDataSource>,
}

/// Exactly one source of a new volume's data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.volumeSnapshot) != has(self.persistentVolumeClaim)").message("storage.dataSource names exactly one of volumeSnapshot, persistentVolumeClaim")
)]
pub struct VolumeDataSource {
    /// A VolumeSnapshot (`snapshot.storage.k8s.io/v1`) to restore from; the StorageClass's CSI
    /// driver must support snapshots and the snapshot must be `readyToUse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')").message("storage.dataSource.volumeSnapshot must be a VolumeSnapshot name (a DNS subdomain)"))]
    pub volume_snapshot: Option<String>,
    /// A PersistentVolumeClaim to clone (e.g. another replica's `data-<statefulset>-<n>`); same
    /// StorageClass and CSI driver, and at most the new volume's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')").message("storage.dataSource.persistentVolumeClaim must be a PersistentVolumeClaim name (a DNS subdomain)"))]
    pub persistent_volume_claim: Option<String>,
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
