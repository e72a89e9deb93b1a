//! `spec.monitoring.podMonitor`: without the Prometheus Operator's CRDs the cluster still
//! converges (Ready, not Stalled) and says what is missing in its `Monitoring` condition and a
//! Warning Event; once the real PodMonitor CRD is installed (`e2e/fixtures/`: the Prometheus
//! Operator's own, v0.85.0) the operator writes a PodMonitor owned by the cluster that passes
//! its schema, selects every pod of the cluster and scrapes ports those pods declare; turning
//! monitoring off deletes it.
//!
//! No Prometheus Operator runs: the test checks what the operator writes. One test, because
//! installing the CRD changes the whole control plane.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, wait_condition};
use koinos_e2e::install::{install_operator, kubectl_apply};
use koinos_e2e::operator::Operator;
use koinos_e2e::third_party_crd::ThirdPartyCrd;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const CRD: ThirdPartyCrd = ThirdPartyCrd {
    name: "podmonitors.monitoring.coreos.com",
    group_version: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
};
const FIXTURE: &str = "e2e/fixtures/prometheus-operator-podmonitor-crd.yaml";
const CLUSTER: &str = "mon";

fn pod_monitors(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "PodMonitor"),
        "podmonitors",
    );
    Api::namespaced_with(client.clone(), namespace, &resource)
}

fn manifest(enabled: bool) -> Value {
    json!({"metadata": {"name": CLUSTER}, "spec": {
        "network": {"devnet": {}},
        "monitoring": {"podMonitor": {"enabled": enabled, "interval": "15s",
                                      "labels": {"release": "prometheus"}}}}})
}

#[tokio::test]
async fn pod_monitor_is_written_when_its_crd_exists_and_reported_missing_otherwise() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    CRD.remove(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "monitoring").await?;
    let operator = Operator::start_with_resync(&cp, &ns.name, Duration::from_secs(5)).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let kc = kcs.apply(CLUSTER, manifest(true)).await?;
    let uid = kc.uid().context("cluster uid")?;

    // 1. No Prometheus Operator: the cluster converges all the same, and says so.
    let missing = wait_until(
        "Monitoring=False (PrometheusOperatorMissing)",
        CONVERGE_TIMEOUT,
        || async {
            let c = kcs.condition(CLUSTER, "Monitoring").await?;
            Ok(c.filter(|c| c["status"] == "False" && c["reason"] == "PrometheusOperatorMissing"))
        },
    )
    .await?;
    let message = missing["message"].as_str().unwrap_or_default();
    ensure!(
        message.contains("spec.monitoring.podMonitor")
            && message.contains("monitoring.coreos.com/v1 PodMonitor"),
        "Monitoring: {missing}"
    );
    wait_condition(&kcs, CLUSTER, "Ready", "True").await?;
    let stalled = kcs.condition(CLUSTER, "Stalled").await?;
    ensure!(
        stalled.as_ref().is_some_and(|c| c["status"] == "False"),
        "a missing monitoring CRD stalls the cluster: {stalled:?}"
    );
    let events: Api<Event> = Api::namespaced(cp.client.clone(), &ns.name);
    let warning = wait_until(
        "a PrometheusOperatorMissing Warning Event",
        CONVERGE_TIMEOUT,
        || async {
            let list = events.list(&ListParams::default()).await?;
            Ok(list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some("PrometheusOperatorMissing")
                    && e.type_.as_deref() == Some("Warning")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(CLUSTER)
            }))
        },
    )
    .await?;
    ensure!(
        warning
            .note
            .as_deref()
            .is_some_and(|n| n.contains("install the Prometheus Operator's CRDs")),
        "Event note: {:?}",
        warning.note
    );
    let api = pod_monitors(&cp.client, &ns.name);

    // 2. The real CRD appears: the operator notices on its own and writes the PodMonitor,
    //    which the CRD's schema accepts.
    kubectl_apply(&cp, FIXTURE)?;
    wait_until(
        "PodMonitor to be served",
        Duration::from_secs(60),
        || async { Ok(CRD.served(&cp.client).await?.then_some(())) },
    )
    .await?;
    let name = format!("{CLUSTER}-metrics");
    let pm = wait_until("the PodMonitor", CONVERGE_TIMEOUT, || async {
        Ok(api.get_opt(&name).await?)
    })
    .await?;
    ensure!(
        pm.owner_references()
            .iter()
            .any(|o| o.kind == "KoinosCluster" && o.uid == uid && o.controller == Some(true)),
        "PodMonitor not owned by the cluster: {:?}",
        pm.owner_references()
    );
    ensure!(
        pm.labels().get("release").map(String::as_str) == Some("prometheus"),
        "labels {:?}",
        pm.labels()
    );
    let spec = &pm.data["spec"];
    let selector = spec["selector"]["matchLabels"].clone();
    ensure!(
        selector
            == json!({"app.kubernetes.io/name": "koinos", "app.kubernetes.io/instance": CLUSTER}),
        "selector {selector}"
    );
    ensure!(
        spec["namespaceSelector"]["matchNames"] == json!([ns.name]),
        "namespaceSelector {}",
        spec["namespaceSelector"]
    );
    let endpoints = spec["podMetricsEndpoints"]
        .as_array()
        .context("podMetricsEndpoints")?;
    let ports: Vec<&str> = endpoints
        .iter()
        .filter_map(|e| e["port"].as_str())
        .collect();
    ensure!(
        ports == ["metrics", "prometheus"],
        "endpoints {endpoints:?}"
    );
    for endpoint in endpoints {
        ensure!(
            endpoint["path"] == "/metrics" && endpoint["interval"] == "15s",
            "endpoint {endpoint}"
        );
        let targets: Vec<&str> = endpoint["relabelings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["targetLabel"].as_str())
            .collect();
        ensure!(
            targets == ["cluster", "component"],
            "relabelings {endpoint}"
        );
    }
    // The selector finds every pod of the cluster, and each declares a scraped port: every
    // service its `metrics`, the broker its `prometheus`.
    let pods: Api<Pod> = Api::namespaced(cp.client.clone(), &ns.name);
    let labels = selector
        .as_object()
        .context("matchLabels")?
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",");
    let selected = pods.list(&ListParams::default().labels(&labels)).await?;
    let all = pods.list(&ListParams::default()).await?;
    ensure!(
        !selected.items.is_empty() && selected.items.len() == all.items.len(),
        "the selector finds {} of the namespace's {} pods",
        selected.items.len(),
        all.items.len()
    );
    let mut scraped = BTreeMap::<String, usize>::new();
    for pod in &selected.items {
        let names: Vec<String> = pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| p.name.clone())
            .filter(|n| ports.contains(&n.as_str()))
            .collect();
        ensure!(
            names.len() == 1,
            "pod {} exposes {names:?} of {ports:?}",
            pod.name_any()
        );
        *scraped.entry(names[0].clone()).or_default() += 1;
    }
    ensure!(
        scraped.get("prometheus") == Some(&1) && scraped.get("metrics") >= Some(&8),
        "scraped ports {scraped:?}"
    );
    wait_until("Monitoring=True", CONVERGE_TIMEOUT, || async {
        let c = kcs.condition(CLUSTER, "Monitoring").await?;
        Ok(c.filter(|c| c["status"] == "True" && c["reason"] == "PodMonitorApplied"))
    })
    .await?;

    // 3. Turned off: the PodMonitor goes, and so does the condition.
    kcs.apply(CLUSTER, manifest(false)).await?;
    wait_until("the PodMonitor to be deleted", CONVERGE_TIMEOUT, || async {
        let gone = api.get_opt(&name).await?.is_none()
            && kcs.condition(CLUSTER, "Monitoring").await?.is_none();
        Ok(gone.then_some(()))
    })
    .await?;

    operator.stop().await?;
    ns.delete().await?;
    CRD.remove(&cp.client).await
}
