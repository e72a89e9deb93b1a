//! The KEDA apply path against the in-memory API server: a clear error when KEDA's kinds are
//! not served, and, when they are, our HPA handed over before the ScaledObject is applied.

use serde_json::json;

use super::*;
use crate::controller::build::build;
use crate::test_support::fake_api::{FakeApi, Write};
use crate::test_support::{API_NODE, generated, validated};

const HPA_PATH: &str =
    "/apis/autoscaling/v2/namespaces/koinos/horizontalpodautoscalers/mainnet-block-store";
const SCALED_OBJECT_PATH: &str =
    "/apis/keda.sh/v1alpha1/namespaces/koinos/scaledobjects/mainnet-block-store";

fn keda_cluster() -> ValidatedCluster {
    validated(&API_NODE.replace(
        "targetQueueDepth: 20}",
        "targetQueueDepth: 20, provider: keda}",
    ))
}

fn serve_keda_discovery(api: &FakeApi) {
    let resource = |name: &str, kind: &str| {
        json!({"name": name, "singularName": "", "namespaced": true, "kind": kind,
               "verbs": ["get", "list", "watch", "create", "patch", "delete"]})
    };
    api.insert(
        "/apis/keda.sh/v1alpha1",
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "keda.sh/v1alpha1",
               "resources": [resource("scaledobjects", "ScaledObject"),
                             resource("triggerauthentications", "TriggerAuthentication")]}),
    );
}

fn position(writes: &[Write], method: &str, path: &str) -> Option<usize> {
    writes
        .iter()
        .position(|w| w.method == method && w.path == path)
}

#[tokio::test]
async fn keda_without_its_crds_fails_clearly_after_the_workloads() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    let vc = keda_cluster();
    let desired = build(&vc, &generated());
    let cache = AppliedCache::default();
    let mut applier = Applier::new(&client, &vc.namespace, &cache);
    let error = applier.apply_all(&desired).await.unwrap_err();
    assert!(matches!(error, Error::KedaCrdsMissing), "{error}");
    assert!(
        error.to_string().starts_with(
            "autoscaling.provider keda needs KEDA's CRDs (keda.sh/v1alpha1 ScaledObject"
        ),
        "{error}"
    );
    assert!(error.is_permanent(), "stalls instead of a hot retry");
    let writes = api.writes();
    assert!(
        position(
            &writes,
            "PATCH",
            "/apis/apps/v1/namespaces/koinos/statefulsets/mainnet-block-store"
        )
        .is_some(),
        "the workloads are applied before the KEDA check"
    );
    assert!(writes.iter().all(|w| !w.path.contains("keda.sh")));
}

#[tokio::test]
async fn keda_objects_are_applied_after_our_hpa_is_retired() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    serve_keda_discovery(&api);
    let vc = keda_cluster();
    // The HPA the operator made while the store was on provider hpa.
    let hpa = build(&validated(API_NODE), &generated())
        .hpas
        .into_iter()
        .find(|h| h.metadata.name.as_deref() == Some("mainnet-block-store"))
        .unwrap();
    api.insert(HPA_PATH, serde_json::to_value(&hpa).unwrap());
    let desired = build(&vc, &generated());
    let cache = AppliedCache::default();
    let mut applier = Applier::new(&client, &vc.namespace, &cache);
    applier.apply_all(&desired).await.unwrap();

    let writes = api.writes();
    let deleted = position(&writes, "DELETE", HPA_PATH).expect("our HPA is deleted");
    let applied = position(&writes, "PATCH", SCALED_OBJECT_PATH).expect("ScaledObject applied");
    assert!(deleted < applied, "{writes:#?}");
    let auth = position(
        &writes,
        "PATCH",
        "/apis/keda.sh/v1alpha1/namespaces/koinos/triggerauthentications/mainnet-keda-amqp",
    )
    .expect("TriggerAuthentication applied");
    assert!(
        auth < applied,
        "the ScaledObject's authenticationRef exists first"
    );
    for w in writes.iter().filter(|w| w.method == "PATCH") {
        assert!(
            w.query.contains("fieldManager=koinos-operator") && w.query.contains("force=true"),
            "{w:?}"
        );
    }
    let stored = api.get(SCALED_OBJECT_PATH).unwrap();
    assert_eq!(stored["kind"], "ScaledObject");
    assert_eq!(
        stored["spec"]["triggers"][0]["metadata"]["queueName"],
        "koinos.rpc.block_store"
    );
    assert_eq!(
        applier.applied.deleted,
        ["HorizontalPodAutoscaler/mainnet-block-store"]
    );
}

#[tokio::test]
async fn an_hpa_of_someone_else_is_left_alone() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    serve_keda_discovery(&api);
    api.insert(
        HPA_PATH,
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "mainnet-block-store", "namespace": "koinos", "uid": "u"},
               "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "mainnet-block-store"},
                        "maxReplicas": 3}}),
    );
    let vc = keda_cluster();
    let cache = AppliedCache::default();
    let mut applier = Applier::new(&client, &vc.namespace, &cache);
    applier.apply_all(&build(&vc, &generated())).await.unwrap();
    assert!(position(&api.writes(), "DELETE", HPA_PATH).is_none());
}
