//! Exposure of a service outside the Kubernetes cluster beyond its Service: an Ingress in front
//! of jsonrpc or grpc (`spec.services.<svc>.ingress`), or a Gateway API route
//! (`spec.services.<svc>.route`).

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A `networking.k8s.io/v1` Ingress `<cluster>-<service>` routing `host` + `path` to the
/// service's client port. Rate limits, body sizes, the backend protocol (grpc) and the like are
/// controller-specific: set them in `annotations` (e.g. ingress-nginx's
/// `nginx.ingress.kubernetes.io/limit-rps`, a per-client-IP limit). Removing it deletes the
/// Ingress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.tlsSecretName) || has(self.host)").message("tlsSecretName: TLS needs a host (the name the certificate covers)").field_path(".tlsSecretName")
)]
pub struct IngressSpec {
    /// The host name clients use (`rpc.example.com`, or a wildcard `*.example.com`). Unset: every
    /// host the controller serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(
            pattern = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
        )
    )]
    pub host: Option<String>,
    /// The HTTP path (default `/`).
    #[serde(default = "default_path")]
    #[schemars(length(max = 1024), regex(pattern = r"^/"))]
    pub path: String,
    /// How `path` matches (default `Prefix`).
    #[serde(default)]
    pub path_type: IngressPathType,
    /// The IngressClass (e.g. `nginx`); unset: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub ingress_class_name: Option<String>,
    /// A `kubernetes.io/tls` Secret in the cluster's namespace holding the certificate of
    /// `host`: the Ingress then terminates TLS for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub tls_secret_name: Option<String>,
    /// Annotations of the Ingress: the controller's settings (rate limits, backend protocol,
    /// cert-manager issuer, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec.services.<svc>.ingress.pathType` (the Ingress API's names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IngressPathType {
    #[default]
    Prefix,
    Exact,
    ImplementationSpecific,
}

impl IngressPathType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prefix => "Prefix",
            Self::Exact => "Exact",
            Self::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// `path` when unset.
pub const DEFAULT_INGRESS_PATH: &str = "/";

fn default_path() -> String {
    DEFAULT_INGRESS_PATH.into()
}

/// A `gateway.networking.k8s.io/v1` route `<cluster>-<service>` attaching the service's client
/// port to the listed Gateways: an HTTPRoute for jsonrpc, a GRPCRoute for grpc. TLS is the
/// Gateway's (a listener with `certificateRefs`); rate limits and the like are the Gateway
/// implementation's policies, attached to the route by its name or set in `annotations`.
/// Removing it deletes the route; the Gateway API's CRDs must be installed (the `Routes`
/// condition says when they are not).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The Gateways (or one listener of each, `sectionName`) the route attaches to. A Gateway in
    /// another namespace must allow routes from this one (`allowedRoutes.namespaces`).
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = Rule::new("size(self) >= 1").message("parentRefs: name at least one Gateway"))]
    pub parent_refs: Vec<GatewayParentRef>,
    /// The host names the route answers (`rpc.example.com`, `*.example.com`); empty: every host
    /// of the listener.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 16),
        inner(
            length(min = 1, max = 253),
            regex(
                pattern = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
            )
        )
    )]
    pub hostnames: Vec<String>,
    /// jsonrpc only: the path prefix routed (default `/`). A GRPCRoute matches gRPC services
    /// and methods, not paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), regex(pattern = r"^/"))]
    pub path: Option<String>,
    /// Annotations of the route: settings of implementations that read them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Gateway the route attaches to (the Gateway API's `ParentReference`, kind Gateway).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayParentRef {
    /// The Gateway's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The Gateway's namespace (default: the cluster's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: Option<String>,
    /// One listener of the Gateway, by name (default: every listener that allows the route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub section_name: Option<String>,
    /// The listener's port (default: every port that allows the route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// `spec.services.<svc>.service.externalTrafficPolicy` (the Service API's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExternalTrafficPolicy {
    /// Any node forwards to any pod (the client's source IP is lost).
    Cluster,
    /// Only nodes running a pod take traffic, which keeps the client's source IP (needed for
    /// per-source limits behind the Service).
    Local,
}

impl ExternalTrafficPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "Cluster",
            Self::Local => "Local",
        }
    }
}
