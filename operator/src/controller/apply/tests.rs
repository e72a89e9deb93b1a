//! The optional kinds' apply paths against the in-memory API server. KEDA: a clear error when
//! its kinds are not served, and, when they are, our HPA handed over before the ScaledObject is
//! applied. The PodMonitor: never an error; applied when served, reported missing otherwise,
//! deleted as an orphan once monitoring is turned off.

use serde_json::json;

use super::*;
use crate::controller::build::build;
use crate::test_support::fake_api::{FakeApi, Write};
use crate::test_support::{API_NODE, DEVNET, generated, validated};

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

const POD_MONITOR_PATH: &str =
    "/apis/monitoring.coreos.com/v1/namespaces/koinos/podmonitors/devnet-metrics";

fn monitored() -> ValidatedCluster {
    validated(&format!(
        "{DEVNET}  monitoring: {{podMonitor: {{enabled: true}}}}\n"
    ))
}

fn serve_monitoring_discovery(api: &FakeApi) {
    api.insert(
        "/apis/monitoring.coreos.com/v1",
        json!({"kind": "APIResourceList", "apiVersion": "v1",
               "groupVersion": "monitoring.coreos.com/v1",
               "resources": [{"name": "podmonitors", "singularName": "podmonitor",
                              "namespaced": true, "kind": "PodMonitor",
                              "verbs": ["get", "list", "watch", "create", "patch", "delete"]}]}),
    );
}

#[tokio::test]
async fn a_pod_monitor_without_its_crd_is_reported_not_an_error() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    let vc = monitored();
    let desired = build(&vc, &generated());
    assert_eq!(desired.pod_monitors.len(), 1);
    let cache = AppliedCache::default();
    let discovery = Discovery::default();
    let mut applier = Applier::new(&client, &vc.namespace, &cache).with_discovery(&discovery);
    applier.apply_all(&desired).await.unwrap();
    applier.delete_orphans(&vc, &desired).await.unwrap();
    assert_eq!(
        applier.applied.monitoring,
        Some(MonitoringOutcome::CrdMissing)
    );
    let writes = api.writes();
    assert!(
        position(
            &writes,
            "PATCH",
            "/apis/apps/v1/namespaces/koinos/statefulsets/devnet-chain"
        )
        .is_some(),
        "the cluster is applied all the same"
    );
    assert!(
        writes
            .iter()
            .all(|w| !w.path.contains("monitoring.coreos.com"))
    );
}

#[tokio::test]
async fn a_served_pod_monitor_is_applied_then_deleted_when_turned_off() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    serve_monitoring_discovery(&api);
    let vc = monitored();
    let cache = AppliedCache::default();
    let discovery = Discovery::default();
    let mut applier = Applier::new(&client, &vc.namespace, &cache).with_discovery(&discovery);
    applier.apply_all(&build(&vc, &generated())).await.unwrap();
    assert_eq!(
        applier.applied.monitoring,
        Some(MonitoringOutcome::Applied {
            name: "devnet-metrics".into()
        })
    );
    let stored = api.get(POD_MONITOR_PATH).expect("PodMonitor applied");
    assert_eq!(stored["spec"]["podMetricsEndpoints"][0]["port"], "metrics");
    let patch = position(&api.writes(), "PATCH", POD_MONITOR_PATH).unwrap();
    assert!(
        api.writes()[patch]
            .query
            .contains("fieldManager=koinos-operator")
    );

    // Turned off: nothing to apply, and the orphan goes.
    let off = validated(DEVNET);
    let desired = build(&off, &generated());
    let mut applier = Applier::new(&client, &off.namespace, &cache).with_discovery(&discovery);
    applier.apply_all(&desired).await.unwrap();
    applier.delete_orphans(&off, &desired).await.unwrap();
    assert_eq!(
        applier.applied.monitoring,
        Some(MonitoringOutcome::Disabled)
    );
    assert_eq!(applier.applied.deleted, ["PodMonitor/devnet-metrics"]);
    assert!(api.get(POD_MONITOR_PATH).is_none());
}

#[tokio::test]
async fn discovery_is_remembered_across_passes() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    let discovery = Discovery::default();
    let serves = || discovery.serves(&client, "monitoring.coreos.com/v1", "PodMonitor");
    assert!(!serves().await.unwrap());
    serve_monitoring_discovery(&api);
    assert!(
        !serves().await.unwrap(),
        "within the TTL the last answer stands (no request per pass)"
    );
    discovery.remember("PodMonitor", true);
    assert!(serves().await.unwrap());
}
