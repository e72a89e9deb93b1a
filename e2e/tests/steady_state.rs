//! The operator is quiet and idempotent: a restart makes no writes once a cluster has
//! converged, and a kill in the middle of a reconcile leaves nothing a restart cannot finish.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use koinos_e2e::children::children;
use koinos_e2e::fixtures::{
    assert_exact_children, assert_owned, create_prerequisites, expected_children, wait_condition,
    wait_workloads_ready,
};
use koinos_e2e::install::{install_operator, operator_username};
use koinos_e2e::operator::Operator;
use koinos_e2e::{
    AuditLog, ControlPlane, KoinosClusters, TestNamespace, wait_until, workspace_path,
};
use kube::ResourceExt;
use serde_json::Value;

/// The quiet period over which a converged cluster must see no operator writes.
const QUIET_PERIOD: Duration = Duration::from_secs(60);
const RESYNC: Duration = Duration::from_secs(10);

fn api_node() -> Result<(String, Value)> {
    let path = workspace_path("manifests/examples/api-node.yaml");
    let mut manifest: Value = serde_yaml::from_str(&std::fs::read_to_string(path)?)?;
    manifest["metadata"]
        .as_object_mut()
        .context("metadata")?
        .remove("namespace");
    Ok((
        manifest["metadata"]["name"]
            .as_str()
            .context("name")?
            .to_owned(),
        manifest,
    ))
}

/// Writes by the operator's ServiceAccount to objects in `namespace` since `position`.
fn operator_writes(audit: &AuditLog, position: u64, namespace: &str) -> Result<Vec<String>> {
    Ok(audit
        .writes_by(position, &operator_username())?
        .into_iter()
        .filter(|e| e.namespace.as_deref() == Some(namespace))
        .map(|e| e.to_string())
        .collect())
}

/// `Kind/name -> uid` of every child: equal maps mean nothing was re-created or duplicated.
async fn child_uids(
    cp: &ControlPlane,
    ns: &str,
    cluster: &str,
) -> Result<BTreeMap<String, String>> {
    Ok(children(&cp.client, ns, cluster)
        .await?
        .iter()
        .map(|c| (c.key(), c.object.uid().unwrap_or_default()))
        .collect())
}

#[tokio::test]
async fn a_restarted_operator_makes_no_writes_in_steady_state() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let audit = AuditLog::new(&cp.audit_log);
    let ns = TestNamespace::create(&cp.client, "quiet").await?;
    create_prerequisites(&cp.client, &ns.name).await?;
    let (name, manifest) = api_node()?;
    let expected = expected_children(&manifest, &ns.name)?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let kc = kcs.apply(&name, manifest).await?;
    wait_condition(&kcs, &name, "Ready", "True").await?;
    wait_workloads_ready(&cp.client, &ns.name, &name).await?;
    // Converged: the first operator has stopped writing (status settles after pods turn Ready).
    wait_until(
        "the operator to stop writing",
        Duration::from_secs(90),
        || async {
            let position = audit.position()?;
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(operator_writes(&audit, position, &ns.name)?
                .is_empty()
                .then_some(()))
        },
    )
    .await?;
    let before = child_uids(&cp, &ns.name, &name).await?;

    operator.kill();
    let position = audit.position()?;
    // Resyncs every 10 s, so the quiet minute also covers periodic reconciles of every cluster.
    let operator = Operator::start_with_resync(&cp, &ns.name, RESYNC).await?;
    tokio::time::sleep(QUIET_PERIOD).await;
    let writes = operator_writes(&audit, position, &ns.name)?;
    ensure!(
        writes.is_empty(),
        "{} writes after a restart in steady state:\n{}",
        writes.len(),
        writes.join("\n")
    );
    ensure!(
        child_uids(&cp, &ns.name, &name).await? == before,
        "children were re-created, added or removed"
    );
    let found = children(&cp.client, &ns.name, &name).await?;
    assert_owned(&found, &kc.uid().context("uid")?)?;
    assert_exact_children(&found, &expected)?;
    operator.stop().await?;
    ns.delete().await
}

#[tokio::test]
async fn an_operator_killed_mid_reconcile_converges_after_restart() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let audit = AuditLog::new(&cp.audit_log);
    let ns = TestNamespace::create(&cp.client, "kill").await?;
    create_prerequisites(&cp.client, &ns.name).await?;
    let (name, manifest) = api_node()?;
    let expected = expected_children(&manifest, &ns.name)?;
    let position = audit.position()?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let kc = kcs.apply(&name, manifest).await?;
    // Kill it as soon as it has written a few children: mid-reconcile.
    let written = wait_until(
        "the operator's first writes",
        Duration::from_secs(60),
        || async {
            let writes = operator_writes(&audit, position, &ns.name)?;
            Ok((writes.len() >= 3).then_some(writes.len()))
        },
    )
    .await?;
    operator.kill();
    let partial = child_uids(&cp, &ns.name, &name).await?;
    eprintln!(
        "[e2e] killed after {written}+ writes with {} children",
        partial.len()
    );

    let operator = Operator::start(&cp, &ns.name).await?;
    wait_condition(&kcs, &name, "Ready", "True").await?;
    let found = wait_workloads_ready(&cp.client, &ns.name, &name).await?;
    assert_owned(&found, &kc.uid().context("uid")?)?;
    assert_exact_children(&found, &expected)?;
    let after = child_uids(&cp, &ns.name, &name).await?;
    ensure!(
        after.len() > partial.len(),
        "the restart created nothing: {} children",
        after.len()
    );
    // What existed at the kill was adopted, not replaced.
    for (key, uid) in &partial {
        ensure!(
            after.get(key) == Some(uid),
            "{key} was replaced or removed after the restart"
        );
    }
    operator.stop().await?;
    ns.delete().await
}
