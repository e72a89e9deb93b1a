//! The Gateway API route of `spec.services.<svc>.route`: a `gateway.networking.k8s.io/v1`
//! HTTPRoute for jsonrpc (JSON-RPC over HTTP POST) and a GRPCRoute for grpc, named like the
//! Service, attached to the user's Gateways, with one rule whose backend is the service's
//! Service on its client port.
//!
//! Gateway API backends name a Service port by number (not by name as an Ingress may), so the
//! number is the Service's: `service.port` when set, else the service's own port.
//!
//! The types are local, like the PodMonitor's (the Gateway API's CRDs may be absent; see
//! `meta::third_party_resource`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::meta::{object_meta, third_party_resource};
use crate::crd::exposure::RouteSpec;
use crate::model::naming::child_name;
use crate::model::profile::ServiceKind;
use crate::model::{ValidatedCluster, ValidatedService};

pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
pub const GATEWAY_VERSION: &str = "v1";
pub const GATEWAY_API_VERSION: &str = "gateway.networking.k8s.io/v1";
/// The path prefix an HTTPRoute matches when `path` is unset.
pub const DEFAULT_ROUTE_PATH: &str = "/";

/// `gateway.networking.k8s.io/v1` HTTPRoute (the fields the operator sets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: HttpRouteSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    #[serde(default)]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteMatch {
    pub path: HttpPathMatch,
}

/// `{type: PathPrefix, value}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPathMatch {
    #[serde(rename = "type")]
    pub type_: String,
    pub value: String,
}

/// `gateway.networking.k8s.io/v1` GRPCRoute (the fields the operator sets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRoute {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: GrpcRouteSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<GrpcRouteRule>,
}

/// No `matches`: every gRPC service and method of the listener's hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRouteRule {
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
}

/// A Gateway (kind and group left to their defaults, Gateway and the Gateway API's group).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// A Service (the default backend kind) in the route's namespace, by port number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendRef {
    pub name: String,
    pub port: i32,
}

third_party_resource!(
    HttpRoute,
    GATEWAY_GROUP,
    GATEWAY_VERSION,
    GATEWAY_API_VERSION,
    "HTTPRoute",
    "httproutes"
);
third_party_resource!(
    GrpcRoute,
    GATEWAY_GROUP,
    GATEWAY_VERSION,
    GATEWAY_API_VERSION,
    "GRPCRoute",
    "grpcroutes"
);

/// The route of one service, whichever its kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Http(HttpRoute),
    Grpc(GrpcRoute),
}

/// What every route of a service shares: metadata (the user's annotations), parents,
/// hostnames and the backend.
struct Common {
    metadata: ObjectMeta,
    parent_refs: Vec<ParentReference>,
    hostnames: Vec<String>,
    backend: BackendRef,
}

fn common(vc: &ValidatedCluster, svc: &ValidatedService, settings: &RouteSpec) -> Option<Common> {
    let main = svc.profile.main_port()?;
    let name = child_name(vc, svc.profile.component);
    let mut metadata = object_meta(vc, name.clone(), svc.profile.component);
    if !settings.annotations.is_empty() {
        metadata.annotations = Some(settings.annotations.clone());
    }
    let parent_refs = settings
        .parent_refs
        .iter()
        .map(|p| ParentReference {
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            section_name: p.section_name.clone(),
            port: p.port,
        })
        .collect();
    Some(Common {
        metadata,
        parent_refs,
        hostnames: settings.hostnames.clone(),
        backend: BackendRef {
            name,
            port: svc.exposure.port.unwrap_or(main.port),
        },
    })
}

/// The service's route, when `route` is set (jsonrpc: HTTPRoute, grpc: GRPCRoute).
pub fn build_route(vc: &ValidatedCluster, svc: &ValidatedService) -> Option<Route> {
    let settings = svc.route.as_ref()?;
    let Common {
        metadata,
        parent_refs,
        hostnames,
        backend,
    } = common(vc, svc, settings)?;
    match svc.kind() {
        ServiceKind::Jsonrpc => Some(Route::Http(HttpRoute {
            api_version: GATEWAY_API_VERSION.into(),
            kind: "HTTPRoute".into(),
            metadata,
            spec: HttpRouteSpec {
                parent_refs,
                hostnames,
                rules: vec![HttpRouteRule {
                    matches: vec![HttpRouteMatch {
                        path: HttpPathMatch {
                            type_: "PathPrefix".into(),
                            value: settings
                                .path
                                .clone()
                                .unwrap_or_else(|| DEFAULT_ROUTE_PATH.into()),
                        },
                    }],
                    backend_refs: vec![backend],
                }],
            },
        })),
        ServiceKind::Grpc => Some(Route::Grpc(GrpcRoute {
            api_version: GATEWAY_API_VERSION.into(),
            kind: "GRPCRoute".into(),
            metadata,
            spec: GrpcRouteSpec {
                parent_refs,
                hostnames,
                rules: vec![GrpcRouteRule {
                    backend_refs: vec![backend],
                }],
            },
        })),
        // validate refuses a route elsewhere
        _ => None,
    }
}

#[cfg(test)]
mod tests;
