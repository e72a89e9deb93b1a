//! The install path users take: `kubectl apply -f manifests/install.yaml`, then the operator
//! working with exactly the permissions that file grants its ServiceAccount.

use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use koinos_e2e::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, install_operator, service_account_client,
};
use koinos_e2e::koinos::rejection;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn install_yaml_installs_a_running_operator_deployment_and_least_privilege_rbac() -> Result<()>
{
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    // The operator Deployment passes admission (Pod Security, ServiceAccount) and its pod is
    // scheduled and reported Ready (by kwok: no container runs here).
    let deployments: Api<Deployment> = Api::namespaced(cp.client.clone(), OPERATOR_NAMESPACE);
    wait_until(
        "the operator Deployment to be available",
        Duration::from_secs(60),
        || async {
            let d = deployments.get("koinos-operator").await?;
            let ready = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
            Ok((ready >= 1).then_some(()))
        },
    )
    .await?;

    let ns = TestNamespace::create(&cp.client, "install").await?;
    let operator =
        service_account_client(&cp, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT).await?;
    // What the operator needs: watch clusters everywhere, write children.
    KoinosClusters::new(&operator, &ns.name)
        .api
        .list(&ListParams::default())
        .await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(operator.clone(), &ns.name);
    let child = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}});
    config_maps
        .patch(
            "probe",
            &PatchParams::apply("koinos-operator").dry_run(),
            &Patch::Apply(&child),
        )
        .await?;
    // What it must not do: edit users' clusters (only their status).
    let (code, message) = rejection(
        KoinosClusters::new(&operator, &ns.name)
            .create(json!({"metadata": {"name": "x"}, "spec": {"network": {"devnet": {}}}}))
            .await,
    )?;
    ensure!(
        code == 403,
        "the operator may create KoinosClusters: {code} {message}"
    );
    ns.delete().await
}
