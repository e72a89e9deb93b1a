//! Reconcile control flow against an in-memory API server: the exact SSA calls, their field
//! manager and order, zero writes in steady state, orphan deletion, skipped status patches.

use super::*;
use crate::metrics::Metrics;
use crate::test_support::fake_api::{FakeApi, Write};
use crate::test_support::{DEVNET, fixture};

#[test]
fn backoff_doubles_and_caps() {
    assert_eq!(backoff(1), Duration::from_secs(5));
    assert_eq!(backoff(2), Duration::from_secs(10));
    assert_eq!(backoff(4), Duration::from_secs(40));
    assert_eq!(backoff(30), Duration::from_secs(300));
}

const CLUSTER_PATH: &str = "/apis/koinos.io/v1alpha1/namespaces/koinos/koinosclusters/devnet";

async fn setup(yaml: &str) -> (FakeApi, Arc<Context>, KoinosCluster) {
    let api = FakeApi::default();
    let url = api.start().await;
    let cluster = fixture(yaml);
    api.insert(CLUSTER_PATH, serde_json::to_value(&cluster).unwrap());
    let ctx = Arc::new(Context::new(
        FakeApi::client(&url),
        Metrics::new(),
        Duration::from_secs(300),
        None,
    ));
    (api, ctx, cluster)
}

/// The cluster as the API server now holds it (with the status we patched).
fn stored_cluster(api: &FakeApi) -> Arc<KoinosCluster> {
    Arc::new(serde_json::from_value(api.get(CLUSTER_PATH).unwrap()).unwrap())
}

fn resource_of(write: &Write) -> String {
    let parts: Vec<_> = write.path.split('/').collect();
    let i = parts.iter().position(|p| *p == "namespaces").unwrap();
    parts[i + 2].to_string()
}

#[tokio::test]
async fn first_reconcile_applies_every_child_in_order_with_one_field_manager() {
    let (api, ctx, cluster) = setup(DEVNET).await;
    let action = reconcile(Arc::new(cluster), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));

    let writes = api.writes();
    let patches: Vec<_> = writes.iter().filter(|w| w.method == "PATCH").collect();
    for w in &patches {
        assert!(w.query.contains("fieldManager=koinos-operator"), "{w:?}");
        assert!(w.query.contains("force=true"), "{w:?}");
    }
    let order: Vec<String> = patches.iter().map(|w| resource_of(w)).collect();
    let mut expected_order = vec!["configmaps"; 3];
    // The administrator's, the producer key, a user per service and the operator's reader.
    expected_order.extend(["secrets"; 2 + 9 + 1]);
    expected_order.extend(["services"; 11]);
    expected_order.push("networkpolicies");
    expected_order.extend(["statefulsets"; 7]);
    expected_order.extend(["deployments"; 3]);
    expected_order.push("koinosclusters");
    assert_eq!(order, expected_order);
    assert!(patches[0].path.ends_with("/configmaps/devnet-config"));
    assert!(
        patches
            .iter()
            .any(|w| w.path.ends_with("/statefulsets/devnet-rabbitmq"))
    );
    assert!(
        patches
            .last()
            .unwrap()
            .path
            .ends_with("/koinosclusters/devnet/status")
    );
    assert!(writes.iter().all(|w| w.method != "DELETE"));

    let stored = stored_cluster(&api);
    let status = stored.status.as_ref().unwrap();
    assert_eq!(status.observed_generation, Some(1));
    assert!(status::find(status, status::STALLED).is_some_and(|c| c.status == "False"));
}

#[tokio::test]
async fn steady_state_makes_zero_writes() {
    let (api, ctx, cluster) = setup(DEVNET).await;
    reconcile(Arc::new(cluster), ctx.clone()).await.unwrap();
    // The fake has no controllers, so workloads never report ready: the status is stable
    // (not ready) and must not be patched again, nor any child re-applied.
    reconcile(stored_cluster(&api), ctx.clone()).await.unwrap();
    api.clear_writes();
    reconcile(stored_cluster(&api), ctx).await.unwrap();
    assert_eq!(api.writes(), Vec::<Write>::new());
}

#[tokio::test]
async fn generated_secrets_are_read_back_not_regenerated() {
    let (api, ctx, cluster) = setup(DEVNET).await;
    reconcile(Arc::new(cluster), ctx.clone()).await.unwrap();
    let secret_path = "/api/v1/namespaces/koinos/secrets/devnet-amqp";
    let first = api.get(secret_path).unwrap()["data"].clone();
    // A fresh operator (empty caches) finds the same credentials.
    let fresh = Arc::new(Context::new(
        ctx.client.clone(),
        Metrics::new(),
        Duration::from_secs(300),
        None,
    ));
    reconcile(stored_cluster(&api), fresh).await.unwrap();
    assert_eq!(api.get(secret_path).unwrap()["data"], first);
}

#[tokio::test]
async fn disabled_service_children_are_deleted_but_generated_secrets_kept() {
    let (api, ctx, cluster) =
        setup(&format!("{DEVNET}  services: {{p2p: {{enabled: true}}}}\n")).await;
    reconcile(Arc::new(cluster), ctx.clone()).await.unwrap();
    let mut changed = (*stored_cluster(&api)).clone();
    changed.spec.services.grpc = Some(Box::new(crate::crd::service::ServiceSpec {
        enabled: Some(false),
        ..Default::default()
    }));
    changed.spec.services.p2p = Some(Box::new(crate::crd::service::ServiceSpec {
        enabled: Some(false),
        ..Default::default()
    }));
    changed.metadata.generation = Some(2);
    api.clear_writes();
    reconcile(Arc::new(changed), ctx).await.unwrap();
    let mut deleted: Vec<_> = api
        .writes()
        .into_iter()
        .filter(|w| w.method == "DELETE")
        .map(|w| w.path.rsplit('/').next().unwrap().to_string())
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        ["devnet-grpc", "devnet-grpc", "devnet-p2p", "devnet-p2p"],
        "Service + workload each"
    );
    assert!(
        api.get("/api/v1/namespaces/koinos/secrets/devnet-p2p-identity")
            .is_some(),
        "generated Secret kept"
    );
}

#[tokio::test]
async fn paused_cluster_writes_no_child() {
    let (api, ctx, cluster) = setup(&format!(
        "{DEVNET}  clusterOperation: {{reconciliationPaused: true}}\n"
    ))
    .await;
    reconcile(Arc::new(cluster), ctx).await.unwrap();
    let writes = api.writes();
    assert!(
        writes
            .iter()
            .all(|w| w.path.contains("/koinosclusters/") || w.path.contains("/events")),
        "{writes:#?}"
    );
    let status = stored_cluster(&api).status.clone().unwrap();
    assert!(status::is_true(
        Some(&status),
        status::RECONCILIATION_PAUSED
    ));
}

#[tokio::test]
async fn invalid_spec_stalls_once_and_waits_for_a_change() {
    let (api, ctx, cluster) = setup(&format!(
        "{DEVNET}  config: {{block-store: {{reset: true}}}}\n"
    ))
    .await;
    let action = reconcile(Arc::new(cluster), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let status = stored_cluster(&api).status.clone().unwrap();
    let stalled = status::find(&status, status::STALLED).unwrap();
    assert_eq!(stalled.status, "True");
    assert!(stalled.message.contains("spec.config.block-store"));
    let events: Vec<_> = api
        .writes()
        .into_iter()
        .filter(|w| w.path.contains("/events"))
        .collect();
    assert_eq!(events.len(), 1, "one InvalidSpec Event");
    api.clear_writes();
    reconcile(stored_cluster(&api), ctx).await.unwrap();
    assert_eq!(
        api.writes(),
        Vec::<Write>::new(),
        "no repeated status patch or Event"
    );
}
