//! With autoscaling on, the HorizontalPodAutoscaler (run by the real kube-controller-manager)
//! owns the workload's replicas: it raises a store to its floor, and the operator neither
//! claims `spec.replicas` nor undoes the HPA's scaling on later reconciles.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, create_prerequisites, wait_condition};
use koinos_e2e::install::install_operator;
use koinos_e2e::operator::Operator;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use koinos_operator::crd::FIELD_MANAGER as OPERATOR_FIELD_MANAGER;
use kube::Api;
use serde_json::json;

#[tokio::test]
async fn the_hpa_owns_replicas_of_an_autoscaled_store() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ns = TestNamespace::create(&cp.client, "hpa").await?;
    create_prerequisites(&cp.client, &ns.name).await?;
    // Short resyncs: the operator re-applies the StatefulSet while the HPA has scaled it.
    let operator = Operator::start_with_resync(&cp, &ns.name, Duration::from_secs(5)).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let spec = json!({
        "network": {"genesis": {"configMapRef": {"name": "mainnet-genesis"}}},
        "services": {"blockStore": {"autoscaling": {"enabled": true, "minReplicas": 3, "maxReplicas": 5}}}
    });
    kcs.apply("hpa", json!({"metadata": {"name": "hpa"}, "spec": spec}))
        .await?;
    wait_condition(&kcs, "hpa", "Ready", "True").await?;

    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(cp.client.clone(), &ns.name);
    let hpa = hpas
        .get("hpa-block-store")
        .await
        .context("the block-store HPA")?;
    let spec = hpa.spec;
    ensure!(
        spec.scale_target_ref.kind == "StatefulSet"
            && spec.scale_target_ref.name == "hpa-block-store"
    );
    ensure!(
        spec.min_replicas == Some(3) && spec.max_replicas == 5,
        "HPA bounds {:?}..{}",
        spec.min_replicas,
        spec.max_replicas
    );

    let sets: Api<StatefulSet> = Api::namespaced(cp.client.clone(), &ns.name);
    let ready_at_floor = || async {
        let sts = sets.get("hpa-block-store").await?;
        let wanted = sts.spec.as_ref().and_then(|s| s.replicas);
        let ready = sts.status.as_ref().and_then(|s| s.ready_replicas);
        Ok((wanted == Some(3) && ready == Some(3)).then_some(sts))
    };
    let sts = wait_until(
        "the HPA to scale block-store to its floor of 3",
        CONVERGE_TIMEOUT,
        ready_at_floor,
    )
    .await?;
    let replicas_owners: Vec<String> = sts
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|f| {
            f.fields_v1
                .as_ref()
                .is_some_and(|v| v.0.pointer("/f:spec/f:replicas").is_some())
        })
        .filter_map(|f| f.manager)
        .collect();
    ensure!(
        !replicas_owners.iter().any(|m| m == OPERATOR_FIELD_MANAGER),
        "the operator owns spec.replicas: {replicas_owners:?}"
    );

    // Several resyncs later the HPA's scaling stands.
    tokio::time::sleep(Duration::from_secs(15)).await;
    wait_until(
        "block-store still at 3",
        Duration::from_secs(1),
        ready_at_floor,
    )
    .await?;
    operator.stop().await?;
    ns.delete().await
}
