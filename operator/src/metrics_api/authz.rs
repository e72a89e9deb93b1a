//! Authorization delegated to the API server with SubjectAccessReviews (cached briefly), on the
//! attributes a generic API server derives from a request: a metric read is `list` of the
//! metric's resource in `external.metrics.k8s.io` in the namespace (the HPA controller's
//! bootstrap role grants exactly that); discovery and OpenAPI are non-resource `get`s.

use axum::http::Method;
use serde::Serialize;

use super::GROUP;

/// What a request does, in authorization terms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Attributes {
    Resource {
        verb: String,
        namespace: String,
        group: String,
        version: String,
        resource: String,
        name: Option<String>,
    },
    NonResource {
        verb: String,
        path: String,
    },
}

/// Members of this group are allowed everything without a review (as in a generic API
/// server); the aggregator's own availability checks come as `system:masters`.
pub const PRIVILEGED_GROUP: &str = "system:masters";

impl Attributes {
    /// The attributes of `method path`: `/apis/<group>/<version>/namespaces/<ns>/<resource>[/<name>]`
    /// is a resource request, everything else a non-resource one.
    pub fn of(method: &Method, path: &str) -> Self {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let [
            "apis",
            group,
            version,
            "namespaces",
            namespace,
            resource,
            rest @ ..,
        ] = parts.as_slice()
            && *group == GROUP
            && rest.len() <= 1
        {
            let name = rest.first().map(|n| n.to_string());
            let verb = match (method.as_str(), &name) {
                ("GET" | "HEAD", None) => "list",
                ("GET" | "HEAD", Some(_)) => "get",
                ("POST", _) => "create",
                ("PUT", _) => "update",
                ("PATCH", _) => "patch",
                ("DELETE", None) => "deletecollection",
                ("DELETE", Some(_)) => "delete",
                _ => "unknown",
            };
            return Self::Resource {
                verb: verb.into(),
                namespace: namespace.to_string(),
                group: group.to_string(),
                version: version.to_string(),
                resource: resource.to_string(),
                name,
            };
        }
        let verb = match method.as_str() {
            "GET" | "HEAD" => "get",
            "POST" => "post",
            "PUT" => "put",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "unknown",
        };
        Self::NonResource {
            verb: verb.into(),
            path: path.to_string(),
        }
    }

    /// "list resource koinos_rpc_queue_depth in API group ... in the namespace ..." for a 403.
    pub fn describe(&self) -> String {
        match self {
            Self::Resource {
                verb,
                namespace,
                group,
                resource,
                ..
            } => format!(
                "cannot {verb} resource {resource:?} in API group {group:?} in the namespace {namespace:?}"
            ),
            Self::NonResource { verb, path } => format!("cannot {verb} path {path:?}"),
        }
    }
}

/// A SubjectAccessReview's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_read_is_a_namespaced_list_of_the_metric() {
        assert_eq!(
            Attributes::of(
                &Method::GET,
                "/apis/external.metrics.k8s.io/v1beta1/namespaces/koinos/koinos_rpc_queue_depth"
            ),
            Attributes::Resource {
                verb: "list".into(),
                namespace: "koinos".into(),
                group: GROUP.into(),
                version: "v1beta1".into(),
                resource: "koinos_rpc_queue_depth".into(),
                name: None,
            }
        );
        let Attributes::Resource { verb, name, .. } = Attributes::of(
            &Method::GET,
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/koinos/koinos_rpc_queue_depth/x",
        ) else {
            panic!("a resource request")
        };
        assert_eq!((verb.as_str(), name.as_deref()), ("get", Some("x")));
    }

    #[test]
    fn discovery_and_other_groups_are_non_resource_requests() {
        for path in [
            "/apis",
            "/apis/external.metrics.k8s.io/v1beta1",
            "/openapi/v2",
            "/apis/apps/v1/namespaces/x/deployments",
        ] {
            assert_eq!(
                Attributes::of(&Method::GET, path),
                Attributes::NonResource {
                    verb: "get".into(),
                    path: path.into()
                }
            );
        }
    }
}
