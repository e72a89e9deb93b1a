//! The HTTP surface: health checks (open), then authentication and authorization of
//! everything else, discovery, OpenAPI and the metric itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use tracing::debug;

use super::access::{Access, Denial};
use super::responses::{self, ExternalMetricValue, bad_request, not_found, status};
use super::selector;
use super::tls::PeerInfo;
use crate::broker::{BrokerReadError, BrokerReader};
use crate::model::metric::QUEUE_DEPTH_METRIC;

/// Paths answered without authentication (probes).
const HEALTH_PATHS: [&str; 3] = ["/healthz", "/readyz", "/livez"];

/// A broker that does not answer within this is reported as unavailable, well before the
/// aggregator's own timeout.
const BROKER_READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct AppState {
    pub access: Arc<Access>,
    pub reader: Arc<dyn BrokerReader>,
}

pub fn router(state: AppState) -> Router {
    let ok = || async { "ok" };
    Router::new()
        .route("/apis", get(|| async { Json(responses::api_group_list()) }))
        .route(
            "/apis/external.metrics.k8s.io",
            get(|| async { Json(responses::api_group()) }),
        )
        .route(
            "/apis/external.metrics.k8s.io/v1beta1",
            get(|| async { Json(responses::api_resource_list()) }),
        )
        .route(
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{metric}",
            get(metric_values),
        )
        .route(
            "/openapi/v2",
            get(|| async { Json(responses::openapi_v2()) }),
        )
        .route(
            "/openapi/v3",
            get(|| async { Json(responses::openapi_v3()) }),
        )
        .route("/healthz", get(ok))
        .route("/readyz", get(ok))
        .route("/livez", get(ok))
        .fallback(|request: Request| async move {
            not_found(format!(
                "the server could not find {}",
                request.uri().path()
            ))
        })
        .method_not_allowed_fallback(|request: Request| async move {
            status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!(
                    "{} is not supported on {}",
                    request.method(),
                    request.uri().path()
                ),
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Authentication and authorization in front of every route but the health checks.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if HEALTH_PATHS.contains(&path.as_str()) {
        return next.run(request).await;
    }
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<PeerInfo>>().cloned()
    else {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "connection details missing",
        );
    };
    let checked = state
        .access
        .check(
            &peer.client_chain,
            request.headers(),
            request.method(),
            &path,
        )
        .await;
    match checked {
        Ok(user) => {
            debug!(user = %user.username, remote = %peer.remote, method = %request.method(), %path, "metrics API request");
            next.run(request).await
        }
        Err(Denial::Unauthenticated(why)) => status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            format!("Unauthorized: {why}"),
        ),
        Err(Denial::Forbidden(why)) => status(StatusCode::FORBIDDEN, "Forbidden", why),
        Err(Denial::ReviewFailed(why)) => status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("authorization review failed: {why}"),
        ),
    }
}

/// `GET .../namespaces/{ns}/koinos_rpc_queue_depth?labelSelector=cluster=X,queue=Y`.
async fn metric_values(
    State(state): State<AppState>,
    Path((namespace, metric)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if metric != QUEUE_DEPTH_METRIC {
        return not_found(format!(
            "external metric {metric:?} is not served here (only {QUEUE_DEPTH_METRIC})"
        ));
    }
    let selector = query.get("labelSelector").map(String::as_str).unwrap_or("");
    let series = match selector::parse(selector) {
        Ok(series) => series,
        Err(why) => return bad_request(format!("labelSelector {selector:?}: {why}")),
    };
    let read = state
        .reader
        .queue_depth(&namespace, &series.cluster, &series.queue);
    let depth = match tokio::time::timeout(BROKER_READ_TIMEOUT, read).await {
        Ok(Ok(depth)) => depth,
        Ok(Err(
            error @ (BrokerReadError::UnknownCluster { .. } | BrokerReadError::UnknownQueue { .. }),
        )) => {
            return not_found(error.to_string());
        }
        Ok(Err(error @ BrokerReadError::Unavailable { .. })) => {
            return status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                error.to_string(),
            );
        }
        Err(_) => {
            return status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!(
                    "reading the broker of KoinosCluster {namespace}/{}: no answer within {BROKER_READ_TIMEOUT:?}",
                    series.cluster
                ),
            );
        }
    };
    let item = ExternalMetricValue {
        metric_name: QUEUE_DEPTH_METRIC.into(),
        metric_labels: series.labels(),
        timestamp: Time(Timestamp::now()),
        value: depth.to_string(),
    };
    Json(responses::external_metric_value_list(vec![item])).into_response()
}
