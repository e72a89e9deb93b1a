//! Exposure of a service outside the Kubernetes cluster beyond its Service: an Ingress in front
//! of jsonrpc or grpc (`spec.services.<svc>.ingress`).

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
