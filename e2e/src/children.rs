//! The objects the operator creates for a KoinosCluster, found the way users find them: by the
//! `app.kubernetes.io/instance` label, across every kind the operator manages.

use anyhow::Result;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client, ResourceExt};

/// `(group, version, kind, plural)` of every namespaced kind the operator may create.
pub const CHILD_KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    ("", "v1", "Service", "services"),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("apps", "v1", "Deployment", "deployments"),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
    ),
    ("networking.k8s.io", "v1", "Ingress", "ingresses"),
];

/// The label every child carries with the cluster's name.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// One child object: its kind and the object itself.
#[derive(Debug, Clone)]
pub struct Child {
    pub kind: &'static str,
    pub object: DynamicObject,
}

impl Child {
    /// `Kind/name`, for messages and comparisons.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.object.name_any())
    }

    /// Whether the child's controller owner reference points at the cluster with `uid`.
    pub fn controlled_by(&self, uid: &str) -> bool {
        self.object
            .owner_references()
            .iter()
            .any(|r| r.uid == uid && r.kind == "KoinosCluster" && r.controller == Some(true))
    }
}

pub fn api_resource(kind: &str) -> ApiResource {
    let (group, version, kind, plural) = CHILD_KINDS
        .iter()
        .find(|(_, _, k, _)| *k == kind)
        .copied()
        .unwrap_or_else(|| panic!("{kind} is not a child kind"));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Every object labelled with the cluster's name in `namespace`, sorted by `Kind/name`.
/// PVCs made from a StatefulSet's volumeClaimTemplates carry the template's labels too.
pub async fn children(client: &Client, namespace: &str, cluster: &str) -> Result<Vec<Child>> {
    let selector = ListParams::default().labels(&format!("{INSTANCE_LABEL}={cluster}"));
    let mut found = Vec::new();
    for (_, _, kind, _) in CHILD_KINDS {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), namespace, &api_resource(kind));
        for object in api.list(&selector).await? {
            found.push(Child { kind, object });
        }
    }
    found.sort_by_key(Child::key);
    Ok(found)
}
