//! The routes against the in-memory API server: never an error; applied when their kind is
//! served, reported missing otherwise (kind by kind), deleted as orphans once unset.

use serde_json::json;

use super::super::{AppliedCache, Applier, Discovery};
use super::RoutesOutcome;
use crate::controller::build::build;
use crate::model::ValidatedCluster;
use crate::test_support::fake_api::FakeApi;
use crate::test_support::{DEVNET, generated, validated};

const HTTP_ROUTE_PATH: &str =
    "/apis/gateway.networking.k8s.io/v1/namespaces/koinos/httproutes/devnet-jsonrpc";
const GRPC_ROUTE_PATH: &str =
    "/apis/gateway.networking.k8s.io/v1/namespaces/koinos/grpcroutes/devnet-grpc";

fn routed() -> ValidatedCluster {
    validated(&format!(
        "{DEVNET}  services: {{jsonrpc: {{route: {{parentRefs: [{{name: gw}}]}}}}, grpc: {{route: {{parentRefs: [{{name: gw}}]}}}}}}\n"
    ))
}

/// Discovery of the Gateway API's group serving these kinds.
fn serve_gateway_discovery(api: &FakeApi, kinds: &[(&str, &str)]) {
    let resources: Vec<_> = kinds
        .iter()
        .map(|(plural, kind)| {
            json!({"name": plural, "singularName": "", "namespaced": true, "kind": kind,
                   "verbs": ["get", "list", "watch", "create", "patch", "delete"]})
        })
        .collect();
    api.insert(
        "/apis/gateway.networking.k8s.io/v1",
        json!({"kind": "APIResourceList", "apiVersion": "v1",
               "groupVersion": "gateway.networking.k8s.io/v1", "resources": resources}),
    );
}

#[tokio::test]
async fn routes_without_their_crds_are_reported_not_an_error() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    let vc = routed();
    let desired = build(&vc, &generated());
    let cache = AppliedCache::default();
    let discovery = Discovery::default();
    let mut applier = Applier::new(&client, &vc.namespace, &cache).with_discovery(&discovery);
    applier.apply_all(&desired).await.unwrap();
    applier.delete_orphans(&vc, &desired).await.unwrap();
    assert_eq!(
        applier.applied.routes,
        Some(RoutesOutcome::CrdMissing {
            kinds: vec!["HTTPRoute", "GRPCRoute"],
            applied: Vec::new(),
        })
    );
    assert!(
        api.writes()
            .iter()
            .all(|w| !w.path.contains("gateway.networking.k8s.io"))
    );
}

#[tokio::test]
async fn served_routes_are_applied_kind_by_kind_then_deleted_when_unset() {
    let api = FakeApi::default();
    let client = FakeApi::client(&api.start().await);
    // An installation with HTTPRoute but not GRPCRoute.
    serve_gateway_discovery(&api, &[("httproutes", "HTTPRoute")]);
    let vc = routed();
    let cache = AppliedCache::default();
    let mut applier = Applier::new(&client, &vc.namespace, &cache);
    applier.apply_all(&build(&vc, &generated())).await.unwrap();
    assert_eq!(
        applier.applied.routes,
        Some(RoutesOutcome::CrdMissing {
            kinds: vec!["GRPCRoute"],
            applied: vec!["HTTPRoute/devnet-jsonrpc".into()],
        })
    );
    let stored = api.get(HTTP_ROUTE_PATH).expect("HTTPRoute applied");
    assert_eq!(
        stored["spec"]["rules"][0]["backendRefs"][0],
        json!({"name": "devnet-jsonrpc", "port": 8080})
    );
    assert!(api.get(GRPC_ROUTE_PATH).is_none());

    serve_gateway_discovery(
        &api,
        &[("httproutes", "HTTPRoute"), ("grpcroutes", "GRPCRoute")],
    );
    let mut applier = Applier::new(&client, &vc.namespace, &cache);
    applier.apply_all(&build(&vc, &generated())).await.unwrap();
    assert_eq!(
        applier.applied.routes,
        Some(RoutesOutcome::Applied {
            routes: vec![
                "HTTPRoute/devnet-jsonrpc".into(),
                "GRPCRoute/devnet-grpc".into()
            ],
        })
    );
    assert!(api.get(GRPC_ROUTE_PATH).is_some());

    // Unset: nothing to apply, and the orphans go.
    let off = validated(DEVNET);
    let desired = build(&off, &generated());
    let mut applier = Applier::new(&client, &off.namespace, &cache);
    applier.apply_all(&desired).await.unwrap();
    applier.delete_orphans(&off, &desired).await.unwrap();
    assert_eq!(applier.applied.routes, Some(RoutesOutcome::Disabled));
    assert_eq!(
        applier.applied.deleted,
        ["HTTPRoute/devnet-jsonrpc", "GRPCRoute/devnet-grpc"]
    );
    assert!(api.get(HTTP_ROUTE_PATH).is_none() && api.get(GRPC_ROUTE_PATH).is_none());
}
