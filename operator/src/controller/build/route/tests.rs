use super::*;
use crate::controller::build::{build, service};
use crate::test_support::{DEVNET, generated, validated};

const ROUTED: &str = r#"  services:
    jsonrpc:
      route:
        parentRefs: [{name: public, namespace: gateways, sectionName: https}]
        hostnames: [rpc.example.com]
        path: /rpc
        annotations: {example.com/rate-limit: "10"}
    grpc:
      service: {port: 9090}
      route:
        parentRefs: [{name: public, namespace: gateways, port: 443}, {name: internal}]
"#;

fn routed() -> ValidatedCluster {
    validated(&format!("{DEVNET}{ROUTED}"))
}

fn route_of(vc: &ValidatedCluster, kind: ServiceKind) -> Option<Route> {
    build_route(vc, vc.service(kind).unwrap())
}

#[test]
fn jsonrpc_http_route_snapshot() {
    let vc = routed();
    let Some(Route::Http(route)) = route_of(&vc, ServiceKind::Jsonrpc) else {
        panic!("jsonrpc gets an HTTPRoute");
    };
    insta::assert_yaml_snapshot!(route);
}

#[test]
fn grpc_route_snapshot() {
    let vc = routed();
    let Some(Route::Grpc(route)) = route_of(&vc, ServiceKind::Grpc) else {
        panic!("grpc gets a GRPCRoute");
    };
    insta::assert_yaml_snapshot!(route);
}

/// The backend is the service's own Service, on the port that Service really exposes (the
/// `service.port` override included).
#[test]
fn backend_is_the_services_client_port() {
    let vc = routed();
    let desired = build(&vc, &generated());
    for (kind, backend) in [
        (ServiceKind::Jsonrpc, {
            let Some(Route::Http(r)) = route_of(&vc, ServiceKind::Jsonrpc) else {
                panic!()
            };
            r.spec.rules[0].backend_refs[0].clone()
        }),
        (ServiceKind::Grpc, {
            let Some(Route::Grpc(r)) = route_of(&vc, ServiceKind::Grpc) else {
                panic!()
            };
            r.spec.rules[0].backend_refs[0].clone()
        }),
    ] {
        let svc = service::build_service_service(&vc, vc.service(kind).unwrap());
        assert_eq!(svc.metadata.name.as_deref(), Some(backend.name.as_str()));
        let ports: Vec<i32> = svc
            .spec
            .unwrap()
            .ports
            .unwrap()
            .iter()
            .map(|p| p.port)
            .collect();
        assert!(
            ports.contains(&backend.port),
            "{kind:?}: {backend:?} not in {ports:?}"
        );
        assert!(
            desired
                .services
                .iter()
                .any(|s| s.metadata.name == Some(backend.name.clone()))
        );
    }
    let Some(Route::Grpc(grpc)) = route_of(&vc, ServiceKind::Grpc) else {
        panic!()
    };
    assert_eq!(grpc.spec.rules[0].backend_refs[0].port, 9090);
}

#[test]
fn unset_path_routes_everything_and_unset_hostnames_are_left_out() {
    let vc = validated(&format!(
        "{DEVNET}  services: {{jsonrpc: {{route: {{parentRefs: [{{name: gw}}]}}}}}}\n"
    ));
    let Some(Route::Http(route)) = route_of(&vc, ServiceKind::Jsonrpc) else {
        panic!()
    };
    assert_eq!(route.spec.rules[0].matches[0].path.value, "/");
    assert_eq!(route.spec.rules[0].matches[0].path.type_, "PathPrefix");
    assert!(route.spec.hostnames.is_empty());
    assert_eq!(route.metadata.annotations, None);
    assert_eq!(
        route.spec.parent_refs,
        [ParentReference {
            name: "gw".into(),
            ..Default::default()
        }]
    );
}

#[test]
fn no_route_unless_asked() {
    let vc = validated(DEVNET);
    for svc in &vc.services {
        assert_eq!(build_route(&vc, svc), None, "{:?}", svc.kind());
    }
    let desired = build(&vc, &generated());
    assert!(desired.http_routes.is_empty() && desired.grpc_routes.is_empty());
}

#[test]
fn desired_holds_both_routes_beside_an_ingress() {
    let vc = validated(&format!(
        "{DEVNET}  services: {{jsonrpc: {{ingress: {{host: rpc.example.com}}, route: {{parentRefs: [{{name: gw}}]}}}}, grpc: {{route: {{parentRefs: [{{name: gw}}]}}}}}}\n"
    ));
    let desired = build(&vc, &generated());
    let names = |metas: Vec<&ObjectMeta>| -> Vec<String> {
        metas.iter().filter_map(|m| m.name.clone()).collect()
    };
    assert_eq!(
        names(desired.http_routes.iter().map(|r| &r.metadata).collect()),
        ["devnet-jsonrpc"]
    );
    assert_eq!(
        names(desired.grpc_routes.iter().map(|r| &r.metadata).collect()),
        ["devnet-grpc"]
    );
    assert_eq!(desired.ingresses.len(), 1);
    let route = &desired.http_routes[0];
    assert_eq!(
        route.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
        "koinos-operator"
    );
}
