//! Volume claim templates: one PVC per replica of a store, the chain or the broker.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::labels;
use crate::model::{Storage, ValidatedCluster};

/// Name of the data volume (PVCs are `data-<statefulset>-<ordinal>`).
pub const DATA_VOLUME: &str = "data";

pub fn build_volume_claim_template(
    vc: &ValidatedCluster,
    component: &str,
    storage: &Storage,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.into()),
            labels: Some(labels(vc, component)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(storage.size.clone()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// PVCs follow `storage.retentionPolicy` when the cluster (hence the StatefulSet) is deleted,
/// and always survive scale-down (a re-added replica finds its data).
pub fn retention_policy(storage: &Storage) -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some(storage.retention.as_str().into()),
        when_scaled: Some("Retain".into()),
    }
}
