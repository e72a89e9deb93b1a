//! Each shipped example, applied to its own namespace with the operator running under the
//! install.yaml ServiceAccount, converges: every child owned by the cluster, pods Ready on the
//! fake nodes, the cluster's Ready condition True, and `kubectl get kc` showing the columns.

use anyhow::{Context, Result, ensure};
use koinos_e2e::children::children;
use koinos_e2e::fixtures::{
    assert_exact_children, assert_owned, assert_pods_ready_on_fake_nodes, create_prerequisites,
    expected_children, wait_condition, wait_workloads_ready,
};
use koinos_e2e::install::install_operator;
use koinos_e2e::operator::Operator;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, workspace_path};
use kube::ResourceExt;
use serde_json::Value;

async fn example_converges(file: &str) -> Result<()> {
    let path = workspace_path(&format!("manifests/examples/{file}"));
    let mut manifest: Value = serde_yaml::from_str(&std::fs::read_to_string(&path)?)?;
    manifest["metadata"]
        .as_object_mut()
        .context("metadata")?
        .remove("namespace");
    let name = manifest["metadata"]["name"]
        .as_str()
        .context("name")?
        .to_owned();

    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ns = TestNamespace::create(&cp.client, "example").await?;
    let expected = expected_children(&manifest, &ns.name)?;
    create_prerequisites(&cp.client, &ns.name).await?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let kc = kcs.apply(&name, manifest).await?;

    let ready = wait_condition(&kcs, &name, "Ready", "True").await?;
    let found = wait_workloads_ready(&cp.client, &ns.name, &name).await?;
    assert_owned(&found, &kc.uid().context("uid")?)?;
    assert_exact_children(&found, &expected)?;
    let pods = assert_pods_ready_on_fake_nodes(&cp.client, &ns.name, &name).await?;
    eprintln!("[e2e] {file}: {} children, {pods} pods Ready", found.len());
    ensure!(
        ready.data.pointer("/status/observedGeneration") == Some(&ready.metadata.generation.into()),
        "status.observedGeneration lags metadata.generation"
    );

    let table = cp.kubectl_ok(&["get", "kc", "-n", &ns.name])?;
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .context("kubectl printed nothing")?
        .split_whitespace()
        .collect();
    ensure!(
        header == ["NAME", "READY", "HEIGHT", "LIB", "LAG", "SERVICES", "AGE"],
        "columns: {header:?}"
    );
    let row: Vec<&str> = lines.next().context("no row")?.split_whitespace().collect();
    ensure!(row[0] == name && row[1] == "True", "row: {row:?}");
    ensure!(
        row.iter().any(|c| c.contains('/')),
        "no SERVICES ready/total in {row:?}"
    );

    operator.stop().await?;
    ensure!(!children(&cp.client, &ns.name, &name).await?.is_empty());
    ns.delete().await
}

#[tokio::test]
async fn devnet_example_converges() -> Result<()> {
    example_converges("devnet.yaml").await
}

#[tokio::test]
async fn api_node_example_converges() -> Result<()> {
    example_converges("api-node.yaml").await
}

/// The operator ships mainnet's genesis (a 580 kB ConfigMap) and runs the official images.
#[tokio::test]
async fn mainnet_api_node_example_converges() -> Result<()> {
    example_converges("mainnet-api-node.yaml").await
}

#[tokio::test]
async fn external_broker_example_converges() -> Result<()> {
    example_converges("external-broker.yaml").await
}
