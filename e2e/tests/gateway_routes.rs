//! `spec.services.<svc>.route`: without the Gateway API's CRDs the cluster still converges
//! (Ready, not Stalled) and its `Routes` condition names the missing kinds; once the real
//! HTTPRoute and GRPCRoute CRDs are installed (`e2e/fixtures/`: the Gateway API's standard
//! channel, v1.3.0) the operator writes jsonrpc's HTTPRoute and grpc's GRPCRoute, owned by the
//! cluster, accepted by those schemas, attached to the named Gateway and sending traffic to the
//! service's Service on the port that Service exposes; unsetting a route deletes it.
//!
//! No Gateway controller runs: the test checks what the operator writes. One test, because
//! installing the CRDs changes the whole control plane.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Service;
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, wait_condition};
use koinos_e2e::install::{install_operator, kubectl_apply};
use koinos_e2e::operator::Operator;
use koinos_e2e::third_party_crd::ThirdPartyCrd;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const HTTP_ROUTE_CRD: ThirdPartyCrd = ThirdPartyCrd {
    name: "httproutes.gateway.networking.k8s.io",
    group_version: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
};
const GRPC_ROUTE_CRD: ThirdPartyCrd = ThirdPartyCrd {
    name: "grpcroutes.gateway.networking.k8s.io",
    group_version: "gateway.networking.k8s.io/v1",
    kind: "GRPCRoute",
};
const FIXTURE: &str = "e2e/fixtures/gateway-api-routes-crds.yaml";
const CLUSTER: &str = "routed";
/// grpc's Service port, moved off the default so that the backend port is seen to follow it.
const GRPC_SERVICE_PORT: i64 = 9090;

fn routes(client: &Client, namespace: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", kind),
        plural,
    );
    Api::namespaced_with(client.clone(), namespace, &resource)
}

fn manifest(jsonrpc_route: bool, grpc_route: bool) -> Value {
    let mut services = json!({"grpc": {"service": {"port": GRPC_SERVICE_PORT}}});
    if jsonrpc_route {
        services["jsonrpc"] = json!({"route": {
            "parentRefs": [{"name": "public", "namespace": "infra", "sectionName": "https"}],
            "hostnames": ["rpc.example.com"],
            "path": "/",
            "annotations": {"example.com/rate-limit": "10"}}});
    }
    if grpc_route {
        services["grpc"]["route"] = json!({"parentRefs": [{"name": "public", "namespace": "infra"}],
                                           "hostnames": ["grpc.example.com"]});
    }
    json!({"metadata": {"name": CLUSTER}, "spec": {"network": {"devnet": {}}, "services": services}})
}

/// The route's single backend is `<cluster>-<svc>` on a port that Service really exposes.
async fn check_backend(route: &DynamicObject, services: &Api<Service>, svc: &str) -> Result<i64> {
    let backends = route.data["spec"]["rules"][0]["backendRefs"]
        .as_array()
        .context("backendRefs")?;
    ensure!(backends.len() == 1, "backends {backends:?}");
    let backend = &backends[0];
    let name = format!("{CLUSTER}-{svc}");
    ensure!(backend["name"] == name.as_str(), "backend {backend}");
    // Defaulted by the CRD's schema: the route was admitted by the real Gateway API types.
    ensure!(
        backend["kind"] == "Service" && backend["weight"] == 1,
        "backend {backend}"
    );
    let port = backend["port"].as_i64().context("backend port")?;
    let service = services.get(&name).await?;
    let ports: Vec<i64> = service
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .map(|p| i64::from(p.port))
        .collect();
    ensure!(
        ports.contains(&port),
        "{name} exposes {ports:?}, not {port}"
    );
    Ok(port)
}

#[tokio::test]
async fn routes_are_written_when_the_gateway_api_exists_and_reported_missing_otherwise()
-> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    HTTP_ROUTE_CRD.remove(&cp.client).await?;
    GRPC_ROUTE_CRD.remove(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "routes").await?;
    let operator = Operator::start_with_resync(&cp, &ns.name, Duration::from_secs(5)).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let kc = kcs.apply(CLUSTER, manifest(true, true)).await?;
    let uid = kc.uid().context("cluster uid")?;

    // 1. No Gateway API: the cluster converges all the same, and says what is missing.
    let missing = wait_until(
        "Routes=False (GatewayApiMissing)",
        CONVERGE_TIMEOUT,
        || async {
            let c = kcs.condition(CLUSTER, "Routes").await?;
            Ok(c.filter(|c| c["status"] == "False" && c["reason"] == "GatewayApiMissing"))
        },
    )
    .await?;
    let message = missing["message"].as_str().unwrap_or_default();
    ensure!(
        message.contains("spec.services.<svc>.route")
            && message.contains("gateway.networking.k8s.io/v1 HTTPRoute, GRPCRoute"),
        "Routes: {missing}"
    );
    wait_condition(&kcs, CLUSTER, "Ready", "True").await?;
    let stalled = kcs.condition(CLUSTER, "Stalled").await?;
    ensure!(
        stalled.as_ref().is_some_and(|c| c["status"] == "False"),
        "missing Gateway API CRDs stall the cluster: {stalled:?}"
    );

    // 2. The real CRDs appear: the operator notices on its own and writes both routes, which
    //    their schemas accept.
    kubectl_apply(&cp, FIXTURE)?;
    wait_until("routes to be served", Duration::from_secs(60), || async {
        let served =
            HTTP_ROUTE_CRD.served(&cp.client).await? && GRPC_ROUTE_CRD.served(&cp.client).await?;
        Ok(served.then_some(()))
    })
    .await?;
    let http_routes = routes(&cp.client, &ns.name, "HTTPRoute", "httproutes");
    let grpc_routes = routes(&cp.client, &ns.name, "GRPCRoute", "grpcroutes");
    let services: Api<Service> = Api::namespaced(cp.client.clone(), &ns.name);
    let http_name = format!("{CLUSTER}-jsonrpc");
    let grpc_name = format!("{CLUSTER}-grpc");
    let http = wait_until("the HTTPRoute", CONVERGE_TIMEOUT, || async {
        Ok(http_routes.get_opt(&http_name).await?)
    })
    .await?;
    let grpc = wait_until("the GRPCRoute", CONVERGE_TIMEOUT, || async {
        Ok(grpc_routes.get_opt(&grpc_name).await?)
    })
    .await?;
    for route in [&http, &grpc] {
        ensure!(
            route
                .owner_references()
                .iter()
                .any(|o| o.kind == "KoinosCluster" && o.uid == uid && o.controller == Some(true)),
            "{} not owned by the cluster: {:?}",
            route.name_any(),
            route.owner_references()
        );
    }
    ensure!(
        http.annotations()
            .get("example.com/rate-limit")
            .map(String::as_str)
            == Some("10"),
        "annotations {:?}",
        http.annotations()
    );
    let spec = &http.data["spec"];
    ensure!(
        spec["parentRefs"][0]["name"] == "public"
            && spec["parentRefs"][0]["namespace"] == "infra"
            && spec["parentRefs"][0]["sectionName"] == "https"
            && spec["hostnames"] == json!(["rpc.example.com"]),
        "HTTPRoute spec {spec}"
    );
    ensure!(
        spec["rules"][0]["matches"] == json!([{"path": {"type": "PathPrefix", "value": "/"}}]),
        "matches {}",
        spec["rules"][0]["matches"]
    );
    check_backend(&http, &services, "jsonrpc").await?;
    let grpc_port = check_backend(&grpc, &services, "grpc").await?;
    ensure!(
        grpc_port == GRPC_SERVICE_PORT,
        "grpc backend port {grpc_port}"
    );
    ensure!(
        grpc.data["spec"]["hostnames"] == json!(["grpc.example.com"]),
        "GRPCRoute spec {}",
        grpc.data["spec"]
    );
    wait_until("Routes=True", CONVERGE_TIMEOUT, || async {
        let c = kcs.condition(CLUSTER, "Routes").await?;
        Ok(c.filter(|c| c["status"] == "True" && c["reason"] == "RoutesApplied"))
    })
    .await?;

    // 3. jsonrpc's route unset: its HTTPRoute goes, grpc's stays.
    kcs.apply(CLUSTER, manifest(false, true)).await?;
    wait_until("the HTTPRoute to be deleted", CONVERGE_TIMEOUT, || async {
        Ok(http_routes
            .get_opt(&http_name)
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    ensure!(
        grpc_routes.get_opt(&grpc_name).await?.is_some(),
        "the GRPCRoute went with the HTTPRoute"
    );

    // 4. No route left: the GRPCRoute goes, and so does the condition.
    kcs.apply(CLUSTER, manifest(false, false)).await?;
    wait_until("the GRPCRoute to be deleted", CONVERGE_TIMEOUT, || async {
        let gone = grpc_routes.get_opt(&grpc_name).await?.is_none()
            && kcs.condition(CLUSTER, "Routes").await?.is_none();
        Ok(gone.then_some(()))
    })
    .await?;

    operator.stop().await?;
    ns.delete().await?;
    HTTP_ROUTE_CRD.remove(&cp.client).await?;
    GRPC_ROUTE_CRD.remove(&cp.client).await
}
