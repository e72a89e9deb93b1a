//! `storage.dataSource`: a store whose volumes start from a VolumeSnapshot. Its PVCs name the
//! snapshot in `dataSourceRef`; while a volume waits for it, the cluster is Stalled with a
//! reason and message naming the snapshot and the field: first because the API server does not
//! serve the CSI snapshot API, then (the real VolumeSnapshot CRD installed, `e2e/fixtures/`:
//! external-snapshotter's own, client/v8 v8.7.0) because the snapshot does not exist, then
//! because it is not `readyToUse`; once it is, nothing is reported missing. Changing the source
//! of an existing cluster re-creates the StatefulSet (never an apply failure) so that it seeds
//! volumes created afterwards; a clone's missing source PVC is named the same way.
//!
//! No snapshot controller or CSI driver runs: the control plane's hostPath provisioner cannot
//! restore, so the restored PVCs stay Pending and the test checks what the operator writes and
//! reports, not the data. One test, because installing the CRD changes the whole control plane.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::events::v1::Event;
use koinos_e2e::fixtures::CONVERGE_TIMEOUT;
use koinos_e2e::install::{install_operator, kubectl_apply};
use koinos_e2e::operator::Operator;
use koinos_e2e::third_party_crd::ThirdPartyCrd;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const CRD: ThirdPartyCrd = ThirdPartyCrd {
    name: "volumesnapshots.snapshot.storage.k8s.io",
    group_version: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshot",
};
const FIXTURE: &str = "e2e/fixtures/external-snapshotter-volumesnapshot-crd.yaml";
const CLUSTER: &str = "restored";
const SNAPSHOT: &str = "bs-snap";
const FIELD: &str = "spec.services.blockStore.storage.dataSource.volumeSnapshot";

fn snapshots(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshot"),
        "volumesnapshots",
    );
    Api::namespaced_with(client.clone(), namespace, &resource)
}

fn manifest(snapshot: &str) -> Value {
    json!({"metadata": {"name": CLUSTER}, "spec": {
        "network": {"devnet": {}},
        "services": {"blockStore": {"storage": {"dataSource": {"volumeSnapshot": snapshot}}}}}})
}

/// Waits for `Stalled=True` with `reason` naming [`FIELD`], and returns its message.
async fn stalled_with(kcs: &KoinosClusters, reason: &str) -> Result<String> {
    stalled_naming(kcs, reason, FIELD).await
}

/// Waits for `Stalled=True` with `reason` naming `field`, and returns its message.
async fn stalled_naming(kcs: &KoinosClusters, reason: &str, field: &str) -> Result<String> {
    let what = format!("Stalled=True ({reason})");
    let c = wait_until(&what, CONVERGE_TIMEOUT, || async {
        let c = kcs.condition(CLUSTER, "Stalled").await?;
        Ok(c.filter(|c| c["status"] == "True" && c["reason"] == reason))
    })
    .await?;
    let message = c["message"].as_str().unwrap_or_default().to_string();
    ensure!(
        message.contains(field),
        "{reason} names no field: {message}"
    );
    Ok(message)
}

/// The `dataSourceRef` of a PVC as JSON.
fn source_ref(pvc: &PersistentVolumeClaim) -> Value {
    let spec = pvc.spec.clone().unwrap_or_default();
    serde_json::to_value(spec.data_source_ref).unwrap_or_default()
}

#[tokio::test]
async fn a_store_restores_from_a_volume_snapshot_and_says_what_it_waits_for() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    CRD.remove(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "snapshot").await?;
    let operator = Operator::start_with_resync(&cp, &ns.name, Duration::from_secs(5)).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    kcs.apply(CLUSTER, manifest(SNAPSHOT)).await?;
    let object = format!("VolumeSnapshot {}/{SNAPSHOT}", ns.name);

    // 1. The store's volume is created naming the snapshot, in dataSourceRef and dataSource.
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(cp.client.clone(), &ns.name);
    let pvc_name = format!("data-{CLUSTER}-block-store-0");
    let pvc = wait_until("the block_store PVC", CONVERGE_TIMEOUT, || async {
        Ok(pvcs.get_opt(&pvc_name).await?)
    })
    .await?;
    let expected =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": SNAPSHOT});
    ensure!(
        source_ref(&pvc) == expected,
        "dataSourceRef {}",
        source_ref(&pvc)
    );
    let data_source = pvc.spec.as_ref().and_then(|s| s.data_source.clone());
    ensure!(
        data_source.is_some_and(|d| d.name == SNAPSHOT && d.kind == "VolumeSnapshot"),
        "dataSource of {pvc_name}"
    );
    // The other stores start empty.
    let chain = pvcs.get(&format!("data-{CLUSTER}-chain-0")).await;
    if let Ok(chain) = chain {
        ensure!(
            source_ref(&chain).is_null(),
            "chain's dataSourceRef {}",
            source_ref(&chain)
        );
    }

    // 2. No CSI snapshot API: the cluster stalls, saying so, with a Warning Event.
    let message = stalled_with(&kcs, "VolumeSnapshotApiMissing").await?;
    ensure!(
        message.contains(&object) && message.contains("snapshot.storage.k8s.io/v1 VolumeSnapshot"),
        "VolumeSnapshotApiMissing: {message}"
    );
    let ready = kcs.condition(CLUSTER, "Ready").await?;
    ensure!(
        ready.as_ref().is_some_and(|c| c["status"] == "False"),
        "Ready while the store waits for its snapshot: {ready:?}"
    );
    let events: Api<Event> = Api::namespaced(cp.client.clone(), &ns.name);
    wait_until(
        "a VolumeSnapshotApiMissing Warning Event",
        CONVERGE_TIMEOUT,
        || async {
            let list = events.list(&ListParams::default()).await?;
            Ok(list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some("VolumeSnapshotApiMissing")
                    && e.type_.as_deref() == Some("Warning")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(CLUSTER)
            }))
        },
    )
    .await?;

    // 3. The real CRD, no snapshot: the missing snapshot is named.
    kubectl_apply(&cp, FIXTURE)?;
    wait_until(
        "VolumeSnapshot to be served",
        Duration::from_secs(60),
        || async { Ok(CRD.served(&cp.client).await?.then_some(())) },
    )
    .await?;
    let message = stalled_with(&kcs, "MissingVolumeSnapshot").await?;
    ensure!(
        message.contains(&format!("{object} (named by {FIELD}) does not exist")),
        "MissingVolumeSnapshot: {message}"
    );

    // 4. The snapshot exists (it passes the real schema) but is not ready to use yet.
    let api = snapshots(&cp.client, &ns.name);
    let snapshot: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": SNAPSHOT},
        "spec": {"source": {"persistentVolumeClaimName": "data-source-block-store-0"}}}))?;
    api.create(&PostParams::default(), &snapshot)
        .await
        .context("a VolumeSnapshot the CRD accepts")?;
    let message = stalled_with(&kcs, "VolumeSnapshotNotReady").await?;
    ensure!(
        message.contains(&object),
        "VolumeSnapshotNotReady: {message}"
    );

    // 5. Ready to use (the snapshot controller's part, written here): nothing is missing.
    let status = json!({"status": {"readyToUse": true, "restoreSize": "1Gi"}});
    api.patch_status(SNAPSHOT, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    wait_until("Stalled=False", CONVERGE_TIMEOUT, || async {
        let c = kcs.condition(CLUSTER, "Stalled").await?;
        Ok(c.filter(|c| c["status"] == "False"))
    })
    .await?;

    // 6. Another source on the existing cluster: the StatefulSet is re-created with it (its
    //    claim templates are immutable), the apply is not refused, and the existing volume keeps
    //    its source (it is created once).
    let sets: Api<StatefulSet> = Api::namespaced(cp.client.clone(), &ns.name);
    let set_name = format!("{CLUSTER}-block-store");
    let before = sets.get(&set_name).await?.uid();
    kcs.patch_spec(
        CLUSTER,
        json!({"services": {"blockStore": {"storage": {"dataSource": {"volumeSnapshot": "newer"}}}}}),
    )
    .await?;
    let set = wait_until("the re-created StatefulSet", CONVERGE_TIMEOUT, || async {
        let set = sets.get_opt(&set_name).await?;
        Ok(set.filter(|s| s.uid() != before))
    })
    .await?;
    let template = set
        .spec
        .and_then(|s| s.volume_claim_templates)
        .and_then(|t| t.into_iter().next())
        .context("claim template")?;
    ensure!(
        source_ref(&template)["name"] == "newer",
        "template dataSourceRef {}",
        source_ref(&template)
    );
    let message = stalled_with(&kcs, "MissingVolumeSnapshot").await?;
    ensure!(message.contains("/newer"), "after the change: {message}");
    let pvc = pvcs.get(&pvc_name).await?;
    ensure!(
        source_ref(&pvc) == expected,
        "existing volume re-sourced: {}",
        source_ref(&pvc)
    );

    // 7. A clone of another volume instead: a missing source PVC is named too, and once it
    //    exists nothing is missing.
    kcs.patch_spec(
        CLUSTER,
        json!({"services": {"blockStore": {"storage": {"dataSource": {"volumeSnapshot": null, "persistentVolumeClaim": "seed"}}}}}),
    )
    .await?;
    let field = "spec.services.blockStore.storage.dataSource.persistentVolumeClaim";
    let message = stalled_naming(&kcs, "MissingSourceVolume", field).await?;
    ensure!(
        message.contains(&format!("PersistentVolumeClaim {}/seed", ns.name)),
        "MissingSourceVolume: {message}"
    );
    let seed: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "seed"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))?;
    pvcs.create(&PostParams::default(), &seed).await?;
    wait_until("Stalled=False", CONVERGE_TIMEOUT, || async {
        let c = kcs.condition(CLUSTER, "Stalled").await?;
        Ok(c.filter(|c| c["status"] == "False"))
    })
    .await?;

    operator.stop().await?;
    ns.delete().await?;
    CRD.remove(&cp.client).await
}
