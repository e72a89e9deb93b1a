//! Volume claim templates: one PVC per replica of a store, the chain or the broker.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, TypedLocalObjectReference,
    TypedObjectReference, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::labels;
use crate::model::cluster::DataSource;
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
            data_source: storage.data_source.as_ref().map(data_source),
            data_source_ref: storage.data_source.as_ref().map(data_source_ref),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `spec.dataSource` of a new volume. Written with `dataSourceRef` (the same object, as the
/// API server requires of both) so that API servers without `AnyVolumeDataSource` restore too.
fn data_source(source: &DataSource) -> TypedLocalObjectReference {
    let (api_group, kind) = source.kind.api_group_kind();
    TypedLocalObjectReference {
        api_group: api_group.map(Into::into),
        kind: kind.into(),
        name: source.name.clone(),
    }
}

fn data_source_ref(source: &DataSource) -> TypedObjectReference {
    let (api_group, kind) = source.kind.api_group_kind();
    TypedObjectReference {
        api_group: api_group.map(Into::into),
        kind: kind.into(),
        name: source.name.clone(),
        namespace: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServiceKind;
    use crate::test_support::{DEVNET, validated};

    fn store_template(services: &str) -> PersistentVolumeClaim {
        let vc = validated(&format!("{DEVNET}  services:\n{services}"));
        let store = vc.service(ServiceKind::BlockStore).unwrap();
        build_volume_claim_template(&vc, "block-store", store.storage.as_ref().unwrap())
    }

    #[test]
    fn a_store_restores_from_a_volume_snapshot() {
        let template = store_template(
            "    blockStore:\n      storage: {size: 200Gi, dataSource: {volumeSnapshot: bs-snap}}\n",
        );
        insta::assert_yaml_snapshot!(template);
    }

    #[test]
    fn a_store_clones_another_volume() {
        let template = store_template(
            "    blockStore:\n      storage: {dataSource: {persistentVolumeClaim: data-devnet-block-store-0}}\n",
        );
        let spec = template.spec.unwrap();
        let reference = spec.data_source_ref.unwrap();
        assert_eq!(
            (reference.api_group, reference.kind.as_str()),
            (None, "PersistentVolumeClaim")
        );
        assert_eq!(reference.name, "data-devnet-block-store-0");
        assert_eq!(spec.data_source.unwrap().name, "data-devnet-block-store-0");
    }

    #[test]
    fn without_a_source_volumes_start_empty() {
        let spec = store_template("    blockStore: {}\n").spec.unwrap();
        assert_eq!((spec.data_source, spec.data_source_ref), (None, None));
    }
}
