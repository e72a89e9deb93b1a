//! Exposure of a cluster outside Kubernetes: the client Service's `loadBalancerSourceRanges`
//! and `externalTrafficPolicy`, an Ingress for jsonrpc (host, path, class, TLS, the
//! controller's annotations such as ingress-nginx's per-source rate limit) and for grpc (the
//! backend-protocol annotation), and p2p's announce address published with its peer id in
//! `status.p2p.externalAddress`. The API server holds what the operator wrote; removing the
//! ingress deletes it; and the API server refuses the settings where they make no sense, naming
//! the field.
//!
//! No ingress controller or load balancer runs: the test checks what the operator writes.

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use koinos_e2e::fixtures::CONVERGE_TIMEOUT;
use koinos_e2e::install::install_operator;
use koinos_e2e::koinos::expect_refused_naming_fields;
use koinos_e2e::operator::Operator;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, install_crd, wait_until};
use kube::api::DynamicObject;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

const CLUSTER: &str = "expose";

fn manifest(ingress: bool) -> Value {
    let mut jsonrpc = json!({"service": {
        "type": "LoadBalancer", "port": 80,
        "loadBalancerSourceRanges": ["203.0.113.0/24", "2001:db8::/32"],
        "externalTrafficPolicy": "Local"}});
    let mut grpc = json!({});
    if ingress {
        jsonrpc["ingress"] = json!({
            "host": "rpc.example.com", "ingressClassName": "nginx", "tlsSecretName": "rpc-tls",
            "annotations": {"nginx.ingress.kubernetes.io/limit-rps": "10",
                            "nginx.ingress.kubernetes.io/limit-burst-multiplier": "3"}});
        grpc["ingress"] = json!({
            "host": "grpc.example.com",
            "annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"}});
    }
    json!({"metadata": {"name": CLUSTER}, "spec": {
        "network": {"devnet": {}},
        "services": {
            "jsonrpc": jsonrpc,
            "grpc": grpc,
            "p2p": {"enabled": true, "service": {"type": "NodePort"},
                    "announce": "203.0.113.7:30888"}}}})
}

#[tokio::test]
async fn ingress_service_settings_and_p2p_announce_are_written() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ns = TestNamespace::create(&cp.client, "exposure").await?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let kc = kcs.apply(CLUSTER, manifest(true)).await?;
    let uid = kc.uid().context("cluster uid")?;
    let ingresses: Api<Ingress> = Api::namespaced(cp.client.clone(), &ns.name);
    let services: Api<Service> = Api::namespaced(cp.client.clone(), &ns.name);

    // The jsonrpc Ingress: host, class, TLS, the rate-limit annotations, the Service's port.
    let name = format!("{CLUSTER}-jsonrpc");
    let ingress = wait_until("the jsonrpc Ingress", CONVERGE_TIMEOUT, || async {
        Ok(ingresses.get_opt(&name).await?)
    })
    .await?;
    ensure!(
        ingress
            .owner_references()
            .iter()
            .any(|o| o.kind == "KoinosCluster" && o.uid == uid && o.controller == Some(true)),
        "Ingress not owned by the cluster: {:?}",
        ingress.owner_references()
    );
    let annotations = ingress.annotations();
    ensure!(
        annotations
            .get("nginx.ingress.kubernetes.io/limit-rps")
            .map(String::as_str)
            == Some("10"),
        "annotations {annotations:?}"
    );
    let spec = serde_json::to_value(ingress.spec.as_ref().context("Ingress spec")?)?;
    ensure!(
        spec == json!({
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["rpc.example.com"], "secretName": "rpc-tls"}],
            "rules": [{"host": "rpc.example.com", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"name": "jsonrpc"}}}}]}}]}),
        "jsonrpc Ingress spec {spec}"
    );
    // The backend is the client Service, which serves that port name.
    let service = services.get(&name).await?;
    let service_spec = service.spec.context("Service spec")?;
    ensure!(
        service_spec
            .ports
            .iter()
            .flatten()
            .any(|p| p.name.as_deref() == Some("jsonrpc")),
        "Service ports {:?}",
        service_spec.ports
    );
    ensure!(
        service_spec.type_.as_deref() == Some("LoadBalancer")
            && service_spec.load_balancer_source_ranges
                == Some(vec!["203.0.113.0/24".into(), "2001:db8::/32".into()])
            && service_spec.external_traffic_policy.as_deref() == Some("Local"),
        "jsonrpc Service {:?} {:?} {:?}",
        service_spec.type_,
        service_spec.load_balancer_source_ranges,
        service_spec.external_traffic_policy
    );

    // grpc: its own Ingress with the backend-protocol annotation, no TLS.
    let grpc = wait_until("the grpc Ingress", CONVERGE_TIMEOUT, || async {
        Ok(ingresses.get_opt(&format!("{CLUSTER}-grpc")).await?)
    })
    .await?;
    ensure!(
        grpc.annotations()
            .get("nginx.ingress.kubernetes.io/backend-protocol")
            .map(String::as_str)
            == Some("GRPC"),
        "grpc annotations {:?}",
        grpc.annotations()
    );
    let grpc_spec = grpc.spec.context("grpc Ingress spec")?;
    ensure!(grpc_spec.tls.is_none(), "grpc TLS {:?}", grpc_spec.tls);
    let backend = serde_json::to_value(&grpc_spec.rules.context("rules")?[0])?;
    ensure!(
        backend["http"]["paths"][0]["backend"]["service"]
            == json!({"name": format!("{CLUSTER}-grpc"), "port": {"name": "grpc"}}),
        "grpc rule {backend}"
    );

    // p2p: the announce address with the peer id, beside the in-cluster one.
    let status = wait_until("status.p2p.externalAddress", CONVERGE_TIMEOUT, || async {
        let kc: DynamicObject = kcs.api.get(CLUSTER).await?;
        Ok(kc
            .data
            .pointer("/status/p2p")
            .cloned()
            .filter(|p| p["externalAddress"].is_string()))
    })
    .await?;
    let peer_id = status["peerId"].as_str().context("peerId")?;
    ensure!(
        status["externalAddress"] == format!("/ip4/203.0.113.7/tcp/30888/p2p/{peer_id}")
            && status["address"]
                == format!("/dns4/{CLUSTER}-p2p.{}.svc/tcp/8888/p2p/{peer_id}", ns.name),
        "status.p2p {status}"
    );

    // Removing the ingresses deletes them; the Service keeps its settings.
    kcs.apply(CLUSTER, manifest(false)).await?;
    wait_until("the Ingresses to be deleted", CONVERGE_TIMEOUT, || async {
        let gone = ingresses.list(&Default::default()).await?.items.is_empty();
        Ok(gone.then_some(()))
    })
    .await?;
    let service_spec = services.get(&name).await?.spec.context("Service spec")?;
    ensure!(
        service_spec.external_traffic_policy.as_deref() == Some("Local"),
        "jsonrpc Service after the ingress went: {:?}",
        service_spec.external_traffic_policy
    );

    operator.stop().await?;
    ns.delete().await
}

fn devnet(services: Value) -> Value {
    json!({"network": {"devnet": {}}, "services": services})
}

/// `(case, spec, substring the rejection message must contain)`.
fn invalid_specs() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "source ranges on a ClusterIP Service",
            devnet(json!({"jsonrpc": {"service": {"loadBalancerSourceRanges": ["10.0.0.0/8"]}}})),
            "spec.services.jsonrpc.service.loadBalancerSourceRanges",
        ),
        (
            "a source range that is no CIDR",
            devnet(
                json!({"jsonrpc": {"service": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0"]}}}),
            ),
            "spec.services.jsonrpc.service.loadBalancerSourceRanges",
        ),
        (
            "externalTrafficPolicy on a ClusterIP Service",
            devnet(json!({"grpc": {"service": {"externalTrafficPolicy": "Local"}}})),
            "spec.services.grpc.service.externalTrafficPolicy",
        ),
        (
            "an unknown externalTrafficPolicy",
            devnet(
                json!({"grpc": {"service": {"type": "NodePort", "externalTrafficPolicy": "Nearest"}}}),
            ),
            "spec.services.grpc.service.externalTrafficPolicy",
        ),
        (
            "TLS without a host",
            devnet(json!({"jsonrpc": {"ingress": {"tlsSecretName": "tls"}}})),
            "spec.services.jsonrpc.ingress.tlsSecretName",
        ),
        (
            "an ingress host that is no DNS name",
            devnet(json!({"jsonrpc": {"ingress": {"host": "RPC_example"}}})),
            "spec.services.jsonrpc.ingress.host",
        ),
        (
            "a relative ingress path",
            devnet(json!({"jsonrpc": {"ingress": {"path": "rpc"}}})),
            "spec.services.jsonrpc.ingress.path",
        ),
        (
            "an ingress on a service without HTTP",
            devnet(json!({"mempool": {"ingress": {"host": "a.example.com"}}})),
            "spec.services.mempool.ingress",
        ),
        (
            "an ingress on p2p",
            devnet(json!({"p2p": {"enabled": true, "ingress": {}}})),
            "spec.services.p2p.ingress",
        ),
        (
            "announce on jsonrpc",
            devnet(json!({"jsonrpc": {"announce": "a.example.com"}})),
            "spec.services.jsonrpc.announce",
        ),
        (
            "an announce address with a peer id",
            devnet(json!({"p2p": {"enabled": true, "announce": "/ip4/1.2.3.4/tcp/8888/p2p/Qm"}})),
            "spec.services.p2p.announce",
        ),
    ]
}

#[tokio::test]
async fn exposure_settings_that_make_no_sense_are_refused_naming_the_field() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_crd(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "exposure-invalid").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    // The positive control: every setting where it belongs is accepted.
    kcs.create(manifest(true))
        .await
        .context("a valid exposure")?;
    expect_refused_naming_fields(&kcs, invalid_specs()).await?;
    ns.delete().await
}
