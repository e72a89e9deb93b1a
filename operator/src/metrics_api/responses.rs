//! The JSON documents the API answers with: discovery, the metric values, OpenAPI, and
//! `metav1.Status` errors.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;
use serde_json::{Value, json};

use super::{GROUP, GROUP_VERSION, VERSION};
use crate::model::metric::QUEUE_DEPTH_METRIC;

/// `GET /apis`: the one group served here.
pub fn api_group_list() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_entry()]})
}

/// `GET /apis/external.metrics.k8s.io`.
pub fn api_group() -> Value {
    let mut group = group_entry();
    group["kind"] = "APIGroup".into();
    group["apiVersion"] = "v1".into();
    group
}

fn group_entry() -> Value {
    let version = json!({"groupVersion": GROUP_VERSION, "version": VERSION});
    json!({"name": GROUP, "versions": [version], "preferredVersion": version})
}

/// `GET /apis/external.metrics.k8s.io/v1beta1`. Only `get` is listed (as other external
/// metrics servers do): with `list`, the namespace controller and garbage collector would try
/// to enumerate the metric, which needs a selector.
pub fn api_resource_list() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
        "resources": [{
            "name": QUEUE_DEPTH_METRIC, "singularName": "", "namespaced": true,
            "kind": "ExternalMetricValueList", "verbs": ["get"],
        }],
    })
}

/// One series of an `ExternalMetricValueList`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricValue {
    pub metric_name: String,
    pub metric_labels: BTreeMap<String, String>,
    pub timestamp: Time,
    /// A Quantity: a plain integer for a message count.
    pub value: String,
}

/// `external.metrics.k8s.io/v1beta1` `ExternalMetricValueList`.
pub fn external_metric_value_list(items: Vec<ExternalMetricValue>) -> Value {
    json!({
        "kind": "ExternalMetricValueList", "apiVersion": GROUP_VERSION,
        "metadata": {}, "items": items,
    })
}

/// `/openapi/v2`: a valid, empty Swagger document (the aggregator merges it every minute; an
/// error would be logged each time).
pub fn openapi_v2() -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "koinos-operator external metrics", "version": VERSION},
        "paths": {},
    })
}

/// `/openapi/v3`: the OpenAPI v3 discovery document, listing no group-version documents.
pub fn openapi_v3() -> Value {
    json!({"paths": {}})
}

/// A `metav1.Status` failure with HTTP status `code`.
pub fn status(code: StatusCode, reason: &str, message: impl Into<String>) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message.into(), "reason": reason, "code": code.as_u16(),
    });
    (code, Json(body)).into_response()
}

pub fn bad_request(message: impl Into<String>) -> Response {
    status(StatusCode::BAD_REQUEST, "BadRequest", message)
}

pub fn not_found(message: impl Into<String>) -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", message)
}
