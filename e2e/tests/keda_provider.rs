//! `autoscaling.provider: keda`: without KEDA's CRDs the cluster stalls with a message that says
//! so (and everything else is still applied); once the CRDs exist the operator writes a
//! ScaledObject and a TriggerAuthentication owned by the cluster, claims no replicas and makes
//! no HPA of its own; switching back to `hpa` removes both KEDA objects again, and once the
//! CRDs are gone again the orphan cleanup (which lists the KEDA kinds) still succeeds.
//!
//! KEDA's CRDs are stand-ins (`e2e/fixtures/keda-crds.yaml`: same kinds, structural schemas
//! that keep every field); no KEDA controller runs. One test, because installing the CRDs
//! changes the whole control plane.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, create_prerequisites, wait_condition};
use koinos_e2e::install::{install_operator, kubectl_apply};
use koinos_e2e::operator::Operator;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use koinos_operator::crd::FIELD_MANAGER as OPERATOR_FIELD_MANAGER;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const KEDA_CRDS: [&str; 2] = ["scaledobjects.keda.sh", "triggerauthentications.keda.sh"];
const KEDA_FIXTURE: &str = "e2e/fixtures/keda-crds.yaml";
const CLUSTER: &str = "kd";

fn keda_api(client: &Client, namespace: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("keda.sh", "v1alpha1", kind),
        plural,
    );
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// Whether discovery serves both KEDA kinds.
async fn keda_served(client: &Client) -> Result<bool> {
    match client.list_api_group_resources("keda.sh/v1alpha1").await {
        Ok(list) => {
            let kinds: Vec<_> = list.resources.iter().map(|r| r.kind.as_str()).collect();
            Ok(kinds.contains(&"ScaledObject") && kinds.contains(&"TriggerAuthentication"))
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn remove_keda_crds(client: &Client) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in KEDA_CRDS {
        match crds.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {} // absent is what we want
            Err(e) => return Err(e.into()),
        }
    }
    wait_until(
        "KEDA's kinds to be gone",
        Duration::from_secs(60),
        || async {
            let gone =
                absent_keda_crds(&crds).await? == KEDA_CRDS.len() && !keda_served(client).await?;
            Ok(gone.then_some(()))
        },
    )
    .await
}

async fn absent_keda_crds(crds: &Api<CustomResourceDefinition>) -> Result<usize> {
    let mut absent = 0;
    for name in KEDA_CRDS {
        if crds.get_opt(name).await?.is_none() {
            absent += 1;
        }
    }
    Ok(absent)
}

/// The controller owner reference to the cluster, on an object's JSON.
fn owned_by(object: &DynamicObject, uid: &str) -> bool {
    object
        .owner_references()
        .iter()
        .any(|o| o.kind == "KoinosCluster" && o.uid == uid && o.controller == Some(true))
}

#[tokio::test]
async fn keda_provider_writes_scaled_objects_or_stalls_without_keda() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    remove_keda_crds(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "keda").await?;
    create_prerequisites(&cp.client, &ns.name).await?;
    let operator = Operator::start_with_resync(&cp, &ns.name, Duration::from_secs(5)).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let autoscaling = |provider: &str| {
        json!({"enabled": true, "provider": provider, "minReplicas": 2, "maxReplicas": 5,
               "targetQueueDepth": 30, "scaleDownStabilizationSeconds": 120})
    };
    let manifest = |provider: &str| {
        json!({"metadata": {"name": CLUSTER}, "spec": {
            "network": {"genesis": {"configMapRef": {"name": "mainnet-genesis"}}},
            "services": {"blockStore": {"autoscaling": autoscaling(provider)}}}})
    };
    let kc = kcs.apply(CLUSTER, manifest("keda")).await?;
    let uid = kc.uid().context("cluster uid")?;

    // 1. No KEDA: Stalled names what is missing; the rest of the cluster is applied.
    let stalled = wait_until(
        "Stalled with the missing-KEDA message",
        CONVERGE_TIMEOUT,
        || async {
            let c = kcs.condition(CLUSTER, "Stalled").await?;
            Ok(c.filter(|c| {
                c["status"] == "True"
                    && c["message"].as_str().is_some_and(|m| {
                        m.contains("autoscaling.provider keda needs KEDA's CRDs (keda.sh/v1alpha1 ScaledObject")
                    })
            }))
        },
    )
    .await?;
    ensure!(stalled["reason"] == "ApplyRejected", "Stalled: {stalled}");
    let sets: Api<StatefulSet> = Api::namespaced(cp.client.clone(), &ns.name);
    let store = format!("{CLUSTER}-block-store");
    let sts = wait_until("the block-store StatefulSet", CONVERGE_TIMEOUT, || async {
        Ok(sets.get_opt(&store).await?)
    })
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
        "the operator owns spec.replicas under KEDA: {replicas_owners:?}"
    );

    // 2. KEDA's CRDs appear: the operator retries on its own and writes both objects.
    kubectl_apply(&cp, KEDA_FIXTURE)?;
    wait_until(
        "KEDA's kinds to be served",
        Duration::from_secs(60),
        || async { Ok(keda_served(&cp.client).await?.then_some(())) },
    )
    .await?;
    let scaled_objects = keda_api(&cp.client, &ns.name, "ScaledObject", "scaledobjects");
    let auths = keda_api(
        &cp.client,
        &ns.name,
        "TriggerAuthentication",
        "triggerauthentications",
    );
    let so = wait_until("the block-store ScaledObject", CONVERGE_TIMEOUT, || async {
        Ok(scaled_objects.get_opt(&store).await?)
    })
    .await?;
    let auth_name = format!("{CLUSTER}-keda-amqp");
    let auth = wait_until("the TriggerAuthentication", CONVERGE_TIMEOUT, || async {
        Ok(auths.get_opt(&auth_name).await?)
    })
    .await?;
    ensure!(
        owned_by(&so, &uid) && owned_by(&auth, &uid),
        "KEDA objects not owned by the cluster"
    );
    let spec = &so.data["spec"];
    let expect = |pointer: &str, want: Value| -> Result<()> {
        let got = spec.pointer(pointer).cloned().unwrap_or(Value::Null);
        ensure!(
            got == want,
            "ScaledObject {pointer}: {got} != {want} in {spec}"
        );
        Ok(())
    };
    expect("/scaleTargetRef/kind", json!("StatefulSet"))?;
    expect("/scaleTargetRef/name", json!(store))?;
    expect("/minReplicaCount", json!(2))?;
    expect("/maxReplicaCount", json!(5))?;
    expect(
        "/advanced/horizontalPodAutoscalerConfig/behavior/scaleDown/stabilizationWindowSeconds",
        json!(120),
    )?;
    expect("/triggers/0/type", json!("rabbitmq"))?;
    expect(
        "/triggers/0/metadata/queueName",
        json!("koinos.rpc.block_store"),
    )?;
    expect("/triggers/0/metadata/value", json!("30"))?;
    expect("/triggers/0/authenticationRef/name", json!(auth_name))?;
    let target = &auth.data["spec"]["secretTargetRef"][0];
    ensure!(
        // KEDA reads queue depths as the operator does, with its reader user.
        *target
            == json!({"parameter": "host", "name": format!("{CLUSTER}-amqp-reader"), "key": "url"}),
        "TriggerAuthentication target {target}"
    );
    wait_until("Stalled to clear", CONVERGE_TIMEOUT, || async {
        let c = kcs.condition(CLUSTER, "Stalled").await?;
        Ok(c.filter(|c| c["status"] == "False"))
    })
    .await?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(cp.client.clone(), &ns.name);
    ensure!(
        hpas.get_opt(&store).await?.is_none(),
        "the operator made its own HPA beside the ScaledObject"
    );

    // 3. Back to hpa: our HPA returns and both KEDA objects go as orphans.
    kcs.apply(CLUSTER, manifest("hpa")).await?;
    wait_until("the HPA and no KEDA objects", CONVERGE_TIMEOUT, || async {
        let hpa = hpas.get_opt(&store).await?;
        let so = scaled_objects.get_opt(&store).await?;
        let auth = auths.get_opt(&auth_name).await?;
        Ok((hpa.is_some() && so.is_none() && auth.is_none()).then_some(()))
    })
    .await?;

    // 4. KEDA's CRDs go away: orphan cleanup (which lists the KEDA kinds) still succeeds, so
    //    a spec change converges to Ready.
    remove_keda_crds(&cp.client).await?;
    kcs.patch_spec(
        CLUSTER,
        json!({"services": {"blockStore": {"autoscaling": {"maxReplicas": 4}}}}),
    )
    .await?;
    wait_condition(&kcs, CLUSTER, "Ready", "True").await?;
    wait_until("the HPA at 4 replicas", CONVERGE_TIMEOUT, || async {
        let hpa = hpas.get(&store).await?;
        Ok((hpa.spec.max_replicas == 4).then_some(()))
    })
    .await?;

    operator.stop().await?;
    ns.delete().await
}
