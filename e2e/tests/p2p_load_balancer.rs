//! p2p's announce address from its Service of type LoadBalancer: with no
//! `spec.services.p2p.announce`, the operator announces the address the cloud assigns
//! (`status.loadBalancer.ingress[0]`). kwok runs no load balancer controller, so the test plays
//! the cloud: it writes the Service's status subresource. Until there is an address,
//! `P2pAnnounced` is False (`WaitingForLoadBalancer`) and the cluster goes on; then p2p's
//! `config.yml` gets `external-address`, its pod template's config hash changes (p2p rolls),
//! and `status.p2p.externalAddress` and the condition name the address; a new address follows.

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, wait_condition};
use koinos_e2e::install::install_operator;
use koinos_e2e::koinos::condition;
use koinos_e2e::operator::Operator;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const CLUSTER: &str = "lb";
const CONFIG_HASH: &str = "koinos.io/config-hash";

/// What the operator wrote for p2p: its `config.yml` and its pod template's config hash.
async fn p2p_config(client: &kube::Client, namespace: &str) -> Result<(String, String)> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let config = maps
        .get(&format!("{CLUSTER}-config"))
        .await?
        .data
        .and_then(|mut d| d.remove("p2p.yml"))
        .context("p2p.yml")?;
    let hash = sets
        .get(&format!("{CLUSTER}-p2p"))
        .await?
        .spec
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.annotations)
        .and_then(|mut a| a.remove(CONFIG_HASH))
        .context("p2p's config hash")?;
    Ok((config, hash))
}

/// Plays the cloud: the LoadBalancer's address is `ip`.
async fn assign_address(services: &Api<Service>, ip: &str) -> Result<()> {
    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
    services
        .patch_status(
            &format!("{CLUSTER}-p2p"),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
    Ok(())
}

/// Waits until p2p announces `/ip4/<ip>/tcp/8888` everywhere: config, status, condition.
/// Returns the config hash it then has.
async fn wait_announced(
    cp: &ControlPlane,
    kcs: &KoinosClusters,
    namespace: &str,
    ip: &str,
) -> Result<String> {
    let address = format!("/ip4/{ip}/tcp/8888");
    let hash = wait_until(
        &format!("p2p's config.yml to announce {address}"),
        CONVERGE_TIMEOUT,
        || async {
            let (config, hash) = p2p_config(&cp.client, namespace).await?;
            Ok(config
                .contains(&format!("external-address:\n  - {address}\n"))
                .then_some(hash))
        },
    )
    .await?;
    let kc = wait_until(
        &format!("status.p2p.externalAddress {address}/p2p/<id>"),
        CONVERGE_TIMEOUT,
        || async {
            let kc = kcs.api.get(CLUSTER).await?;
            let external = kc.data.pointer("/status/p2p/externalAddress").cloned();
            let peer_id = kc.data.pointer("/status/p2p/peerId").cloned();
            let want = peer_id
                .as_ref()
                .and_then(Value::as_str)
                .map(|id| format!("{address}/p2p/{id}"));
            Ok(
                (external.as_ref().and_then(Value::as_str) == want.as_deref() && want.is_some())
                    .then_some(kc),
            )
        },
    )
    .await?;
    let announced = condition(&kc, "P2pAnnounced").context("P2pAnnounced")?;
    ensure!(
        announced["status"] == "True"
            && announced["reason"] == "LoadBalancerAddress"
            && announced["message"]
                .as_str()
                .is_some_and(|m| m.contains(&address)),
        "P2pAnnounced {announced}"
    );
    Ok(hash)
}

#[tokio::test]
async fn p2p_announces_the_address_its_load_balancer_is_assigned() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ns = TestNamespace::create(&cp.client, "p2p-lb").await?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    kcs.apply(
        CLUSTER,
        json!({"metadata": {"name": CLUSTER}, "spec": {
            "network": {"devnet": {}},
            "services": {"p2p": {"enabled": true, "service": {"type": "LoadBalancer"}}}}}),
    )
    .await?;

    // No address yet: p2p waits for one, says so, and announces nothing.
    let kc = wait_condition(&kcs, CLUSTER, "P2pAnnounced", "False").await?;
    let waiting = condition(&kc, "P2pAnnounced").context("P2pAnnounced")?;
    ensure!(
        waiting["reason"] == "WaitingForLoadBalancer",
        "P2pAnnounced {waiting}"
    );
    let (config, unannounced) = wait_until("p2p's config", CONVERGE_TIMEOUT, || async {
        Ok(p2p_config(&cp.client, &ns.name).await.ok())
    })
    .await?;
    ensure!(!config.contains("external-address"), "p2p.yml {config}");
    let status_p2p = wait_until("status.p2p", CONVERGE_TIMEOUT, || async {
        let kc = kcs.api.get(CLUSTER).await?;
        Ok(kc.data.pointer("/status/p2p").cloned())
    })
    .await?;
    ensure!(
        status_p2p.get("externalAddress").is_none(),
        "status.p2p {status_p2p}"
    );

    // The cloud assigns an address: p2p announces it and rolls.
    let services: Api<Service> = Api::namespaced(cp.client.clone(), &ns.name);
    assign_address(&services, "203.0.113.7").await?;
    let first = wait_announced(&cp, &kcs, &ns.name, "203.0.113.7").await?;
    ensure!(first != unannounced, "p2p's config hash did not change");

    // A new address (a re-created load balancer): p2p follows and rolls again.
    assign_address(&services, "203.0.113.8").await?;
    let second = wait_announced(&cp, &kcs, &ns.name, "203.0.113.8").await?;
    ensure!(second != first, "p2p's config hash did not change");

    operator.stop().await?;
    ns.delete().await
}
