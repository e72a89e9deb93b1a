//! Names, labels, owner references and metadata shared by every child.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use sha2::{Digest, Sha256};

use crate::model::ValidatedCluster;

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
/// Marks Secrets holding generated material (credentials, keys): never deleted as orphans,
/// never regenerated; they go away with the cluster through the owner reference.
pub const LABEL_GENERATED: &str = "koinos.io/generated";
/// Pod-template annotation: hash of the rendered config, so a config change rolls the pods.
pub const ANNOTATION_CONFIG_HASH: &str = "koinos.io/config-hash";

pub const APP_NAME: &str = "koinos";
pub const MANAGED_BY: &str = "koinos-operator";

/// Labels that select a component's pods (stable: never change them on a live object).
pub fn selector_labels(vc: &ValidatedCluster, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_string(), APP_NAME.to_string()),
        (LABEL_INSTANCE.to_string(), vc.name.clone()),
        (LABEL_COMPONENT.to_string(), component.to_string()),
    ])
}

/// Every label of a child: the selector labels plus ownership labels.
pub fn labels(vc: &ValidatedCluster, component: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(vc, component);
    labels.insert(LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string());
    labels.insert(LABEL_PART_OF.to_string(), vc.name.clone());
    labels
}

/// Label selector listing every child of a cluster (orphan cleanup).
pub fn cluster_selector(cluster: &str) -> String {
    cluster_selector_labels(cluster)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The labels of [`cluster_selector`], as pairs (matching watch-cache entries).
pub fn cluster_selector_labels(cluster: &str) -> [(&'static str, &str); 3] {
    [
        (LABEL_NAME, APP_NAME),
        (LABEL_INSTANCE, cluster),
        (LABEL_MANAGED_BY, MANAGED_BY),
    ]
}

pub fn selector(vc: &ValidatedCluster, component: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(selector_labels(vc, component)),
        ..Default::default()
    }
}

/// The controller owner reference to the KoinosCluster (absent when rendering a manifest
/// that has no uid: the API server would reject an empty one).
pub fn owner_ref(vc: &ValidatedCluster) -> Option<OwnerReference> {
    vc.uid.as_ref().map(|uid| OwnerReference {
        api_version: "koinos.io/v1alpha1".into(),
        kind: "KoinosCluster".into(),
        name: vc.name.clone(),
        uid: uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Metadata of a child named `name` belonging to `component`.
pub fn object_meta(vc: &ValidatedCluster, name: String, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(vc.namespace.clone()),
        labels: Some(labels(vc, component)),
        owner_references: owner_ref(vc).map(|o| vec![o]),
        ..Default::default()
    }
}

/// Short, stable content hash (hex) for annotations.
pub fn content_hash(content: &[u8]) -> String {
    hex::encode(&Sha256::digest(content)[..8])
}

/// k8s-openapi's `Resource` and `Metadata` for a local type of a third-party, namespaced kind
/// (KEDA's, the Prometheus Operator's: their CRDs may be absent), so the applier and orphan
/// cleanup treat it like every other child. The type has a `metadata: ObjectMeta` field.
macro_rules! third_party_resource {
    ($type:ty, $group:expr, $version:expr, $api_version:expr, $kind:literal, $plural:literal) => {
        impl k8s_openapi::Resource for $type {
            const API_VERSION: &'static str = $api_version;
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }
        impl k8s_openapi::Metadata for $type {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };
}
pub(crate) use third_party_resource;
