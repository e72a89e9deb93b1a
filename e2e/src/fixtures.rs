//! What a test needs around a KoinosCluster: the prerequisites users create by hand (genesis
//! ConfigMap, external broker Secret) and the checks every converged cluster must pass.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use crate::children::{Child, children};
use crate::koinos::{KoinosClusters, TEST_FIELD_MANAGER, condition, workspace_path};
use crate::wait::wait_until;

/// How long a cluster may take to converge on this control plane (kwok marks pods Ready at once).
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Creates what the examples expect to exist: ConfigMap `mainnet-genesis` (the real mainnet
/// genesis) and Secret `koinos-amqp` (an external broker URL).
pub async fn create_prerequisites(client: &Client, namespace: &str) -> Result<()> {
    let genesis_path = workspace_path("services/src/chain/testdata/mainnet-genesis_data.json");
    let genesis = std::fs::read_to_string(&genesis_path)
        .with_context(|| format!("reading {}", genesis_path.display()))?;
    let params = PatchParams::apply(TEST_FIELD_MANAGER).force();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mainnet-genesis"},
                    "data": {"genesis_data.json": genesis}});
    config_maps
        .patch("mainnet-genesis", &params, &Patch::Apply(&cm))
        .await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "koinos-amqp"},
        "stringData": {"url": "amqp://koinos:secret@rabbitmq.messaging.svc:5672/koinos"}});
    secrets
        .patch("koinos-amqp", &params, &Patch::Apply(&secret))
        .await?;
    Ok(())
}

/// Waits until condition `type_` of cluster `name` has `status` for the current generation.
pub async fn wait_condition(
    kcs: &KoinosClusters,
    name: &str,
    type_: &str,
    status: &str,
) -> Result<DynamicObject> {
    let what = format!("KoinosCluster {name} condition {type_}={status}");
    wait_until(&what, CONVERGE_TIMEOUT, || async {
        let kc = kcs.api.get(name).await?;
        let generation = kc.metadata.generation;
        let met = condition(&kc, type_).is_some_and(|c| {
            c["status"] == status
                && c["observedGeneration"]
                    .as_i64()
                    .is_none_or(|g| Some(g) == generation)
        });
        Ok(met.then_some(kc))
    })
    .await
}

/// Replicas wanted and ready of a StatefulSet or Deployment child.
pub fn workload_replicas(child: &Child) -> (i64, i64) {
    let data = &child.object.data;
    let wanted = data
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = data
        .pointer("/status/readyReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    (wanted, ready)
}

pub fn is_workload(child: &Child) -> bool {
    matches!(child.kind, "StatefulSet" | "Deployment")
}

/// Waits until every workload of the cluster has all its replicas Ready, and returns the
/// children then present.
pub async fn wait_workloads_ready(
    client: &Client,
    namespace: &str,
    cluster: &str,
) -> Result<Vec<Child>> {
    let what = format!("every workload of {cluster} to be Ready");
    wait_until(&what, CONVERGE_TIMEOUT, || async {
        let found = children(client, namespace, cluster).await?;
        let workloads: Vec<_> = found.iter().filter(|c| is_workload(c)).collect();
        let not_ready: Vec<String> = workloads
            .iter()
            .filter(|c| {
                let (wanted, ready) = workload_replicas(c);
                ready != wanted
                    || c.object
                        .data
                        .pointer("/status/observedGeneration")
                        .and_then(Value::as_i64)
                        != c.object.metadata.generation
            })
            .map(|c| c.key())
            .collect();
        ensure!(!workloads.is_empty(), "no workloads yet");
        ensure!(not_ready.is_empty(), "not ready: {}", not_ready.join(", "));
        Ok(Some(found))
    })
    .await
}

/// Every child other than a PVC carries a controller owner reference to the cluster (PVCs made
/// from volumeClaimTemplates belong to the StatefulSet's retention policy instead).
pub fn assert_owned(found: &[Child], cluster_uid: &str) -> Result<()> {
    let unowned: Vec<String> = found
        .iter()
        .filter(|c| c.kind != "PersistentVolumeClaim" && !c.controlled_by(cluster_uid))
        .map(Child::key)
        .collect();
    ensure!(
        unowned.is_empty(),
        "children without a controller ownerRef to the cluster: {unowned:?}"
    );
    Ok(())
}

/// The cluster's pods, which must all be Ready and bound to a kwok node.
pub async fn assert_pods_ready_on_fake_nodes(
    client: &Client,
    namespace: &str,
    cluster: &str,
) -> Result<usize> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods
        .list(
            &ListParams::default()
                .labels(&format!("{}={cluster}", crate::children::INSTANCE_LABEL)),
        )
        .await?;
    ensure!(!list.items.is_empty(), "no pods for {cluster}");
    for pod in &list.items {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        ensure!(
            node.starts_with("kwok-node-") && ready,
            "pod {} not Ready on a kwok node (node {node:?})",
            pod.name_any()
        );
    }
    Ok(list.items.len())
}

/// `Kind/name` of every child the operator should create for `manifest` in `namespace`,
/// from `koinos_operator::render` (its pure builders) plus the generated objects it lists.
/// PVCs are not included: StatefulSets create them from their volumeClaimTemplates.
pub fn expected_children(
    manifest: &Value,
    namespace: &str,
) -> Result<std::collections::BTreeSet<String>> {
    use serde::Deserialize;
    let rendered = koinos_operator::render::render(&serde_yaml::to_string(manifest)?, namespace)?;
    let mut expected = std::collections::BTreeSet::new();
    for line in rendered.lines() {
        if let Some(generated) = line.strip_prefix("# ").and_then(|l| l.split(':').next())
            && generated.contains('/')
        {
            expected.insert(generated.to_owned());
        }
    }
    for document in serde_yaml::Deserializer::from_str(&rendered) {
        let object = Value::deserialize(document)?;
        if let (Some(kind), Some(name)) =
            (object["kind"].as_str(), object["metadata"]["name"].as_str())
        {
            expected.insert(format!("{kind}/{name}"));
        }
    }
    Ok(expected)
}

/// Checks that the children present are exactly the expected ones (no orphan, none missing;
/// names are unique per kind, so a duplicate would show as an unexpected name).
pub fn assert_exact_children(
    found: &[Child],
    expected: &std::collections::BTreeSet<String>,
) -> Result<()> {
    let actual: std::collections::BTreeSet<String> = found
        .iter()
        .filter(|c| c.kind != "PersistentVolumeClaim")
        .map(Child::key)
        .collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let unexpected: Vec<_> = actual.difference(expected).collect();
    ensure!(
        missing.is_empty() && unexpected.is_empty(),
        "children missing: {missing:?}; unexpected: {unexpected:?}"
    );
    Ok(())
}
