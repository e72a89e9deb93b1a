//! The metrics API over real HTTPS connections: TLS with and without client certificates,
//! the front-proxy and bearer-token paths, review caching, and every answer's status and
//! body. The API server's reviews and the broker are fakes here (the e2e suite runs the real
//! ones); certificates are generated per test.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;

use self::support::{Ca, HPA_SELECTOR, Harness, METRIC_PATH, assert_status};
use super::authz::Attributes;

#[tokio::test]
async fn health_checks_answer_without_credentials_and_the_rest_needs_them() {
    let h = Harness::start().await;
    for path in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(
            h.get(path, None, &[]).await,
            (200, Value::String("ok".into()))
        );
    }
    let answer = h
        .get("/apis/external.metrics.k8s.io/v1beta1", None, &[])
        .await;
    assert_status(
        &answer,
        401,
        "Unauthorized",
        "no client certificate or bearer token",
    );
    let answer = h.get("/nowhere", None, &[]).await;
    assert_eq!(
        answer.0, 401,
        "unknown paths are not revealed to anonymous clients"
    );
}

#[tokio::test]
async fn the_front_proxy_user_is_authorized_and_reads_the_queue_depth() {
    let h = Harness::start().await;
    let headers = [
        (
            "X-Remote-User",
            "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
        ),
        ("X-Remote-Group", "system:serviceaccounts"),
        ("X-Remote-Group", "system:authenticated"),
        ("X-Remote-Extra-Acme.com%2Fteam", "infra"),
    ];
    let (code, body) = h
        .get(
            &format!("{METRIC_PATH}?{HPA_SELECTOR}"),
            h.front_proxy(),
            &headers,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["kind"], "ExternalMetricValueList");
    assert_eq!(body["apiVersion"], "external.metrics.k8s.io/v1beta1");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["metricName"], "koinos_rpc_queue_depth");
    assert_eq!(items[0]["value"], "42");
    assert_eq!(
        items[0]["metricLabels"],
        serde_json::json!({"cluster": "node", "queue": "koinos.rpc.block_store"})
    );
    let timestamp = items[0]["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.len() >= 20,
        "{timestamp}"
    );

    let accesses = h.reviews.accesses.lock().unwrap().clone();
    assert_eq!(accesses.len(), 1);
    let (user, attributes) = &accesses[0];
    assert_eq!(
        user.username,
        "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
    );
    assert_eq!(
        user.groups,
        ["system:serviceaccounts", "system:authenticated"],
        "system:authenticated is not added twice"
    );
    assert_eq!(
        user.extra,
        BTreeMap::from([("acme.com/team".into(), vec!["infra".into()])])
    );
    let Attributes::Resource {
        verb,
        namespace,
        group,
        resource,
        ..
    } = attributes
    else {
        panic!("{attributes:?}")
    };
    assert_eq!(
        (
            verb.as_str(),
            namespace.as_str(),
            group.as_str(),
            resource.as_str()
        ),
        (
            "list",
            "koinos",
            "external.metrics.k8s.io",
            "koinos_rpc_queue_depth"
        )
    );
    assert!(
        h.reviews.tokens.lock().unwrap().is_empty(),
        "no TokenReview for the front proxy"
    );

    // The same request again is answered from the review cache.
    let (code, _) = h
        .get(
            &format!("{METRIC_PATH}?{HPA_SELECTOR}"),
            h.front_proxy(),
            &headers,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(h.reviews.accesses.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn remote_user_headers_count_only_from_the_trusted_front_proxy() {
    let h = Harness::start().await;
    let claim = [
        ("X-Remote-User", "admin"),
        ("X-Remote-Group", "system:masters"),
    ];
    let stranger = Ca::new("front-proxy-ca").client("front-proxy-client");
    let answer = h.get(METRIC_PATH, Some(stranger), &claim).await;
    assert_status(
        &answer,
        401,
        "Unauthorized",
        "not signed by the request-header CA",
    );
    let wrong_name = h.front_proxy_ca.client("someone-else");
    let answer = h.get(METRIC_PATH, Some(wrong_name), &claim).await;
    assert_status(
        &answer,
        401,
        "Unauthorized",
        "\"someone-else\" is not one of the request-header allowed names",
    );
    let answer = h.get(METRIC_PATH, None, &claim).await;
    assert_status(
        &answer,
        401,
        "Unauthorized",
        "no client certificate or bearer token",
    );
    let answer = h.get(METRIC_PATH, h.front_proxy(), &[]).await;
    assert_status(&answer, 401, "Unauthorized", "without a user header");
    assert!(h.reviews.accesses.lock().unwrap().is_empty());
}

#[tokio::test]
async fn system_masters_skip_the_access_review() {
    let h = Harness::start().await;
    let headers = [
        ("X-Remote-User", "system:kube-aggregator"),
        ("X-Remote-Group", "system:masters"),
    ];
    let (code, body) = h
        .get(
            "/apis/external.metrics.k8s.io/v1beta1",
            h.front_proxy(),
            &headers,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(h.reviews.accesses.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bearer_tokens_are_reviewed_and_denials_are_403() {
    let h = Harness::start().await;
    let answer = h
        .get(METRIC_PATH, None, &[("Authorization", "Bearer stolen")])
        .await;
    assert_status(
        &answer,
        401,
        "Unauthorized",
        "bearer token was not accepted",
    );
    let good = [("Authorization", "Bearer good")];
    let (code, body) = h
        .get(&format!("{METRIC_PATH}?{HPA_SELECTOR}"), None, &good)
        .await;
    assert_eq!(code, 200, "{body}");
    let other_namespace =
        "/apis/external.metrics.k8s.io/v1beta1/namespaces/other/koinos_rpc_queue_depth";
    let answer = h
        .get(&format!("{other_namespace}?{HPA_SELECTOR}"), None, &good)
        .await;
    assert_status(
        &answer,
        403,
        "Forbidden",
        "User \"alice\" cannot list resource \"koinos_rpc_queue_depth\" in API group \"external.metrics.k8s.io\" in the namespace \"other\": no RBAC rule",
    );
    // One TokenReview per token within the cache's lifetime.
    assert_eq!(*h.reviews.tokens.lock().unwrap(), ["stolen", "good"]);
}

#[tokio::test]
async fn bad_requests_and_broker_failures_are_statuses() {
    let h = Harness::start().await;
    let masters = [
        ("X-Remote-User", "admin"),
        ("X-Remote-Group", "system:masters"),
    ];
    let (h, masters) = (&h, &masters);
    let get = |path: String| async move { h.get(&path, h.front_proxy(), masters).await };
    assert_status(
        &get(METRIC_PATH.to_string()).await,
        400,
        "BadRequest",
        "must select one cluster and one queue",
    );
    assert_status(
        &get(format!(
            "{METRIC_PATH}?labelSelector=cluster%3Dnode%2Cqueue!%3Dx"
        ))
        .await,
        400,
        "BadRequest",
        "only `queue=<value>`",
    );
    let other_metric = "/apis/external.metrics.k8s.io/v1beta1/namespaces/koinos/cpu";
    assert_status(
        &get(format!("{other_metric}?{HPA_SELECTOR}")).await,
        404,
        "NotFound",
        "\"cpu\" is not served here",
    );
    assert_status(
        &get(format!(
            "{METRIC_PATH}?labelSelector=cluster%3Dnone%2Cqueue%3Dkoinos.rpc.block_store"
        ))
        .await,
        404,
        "NotFound",
        "KoinosCluster koinos/none not found",
    );
    assert_status(
        &get(format!(
            "{METRIC_PATH}?labelSelector=cluster%3Dnode%2Cqueue%3Dkoinos.rpc.jsonrpc"
        ))
        .await,
        404,
        "NotFound",
        "queue koinos.rpc.jsonrpc is not an RPC queue",
    );
    assert_status(
        &get(format!(
            "{METRIC_PATH}?labelSelector=cluster%3Ddown%2Cqueue%3Dkoinos.rpc.block_store"
        ))
        .await,
        503,
        "ServiceUnavailable",
        "reading the broker of KoinosCluster koinos/down: connection refused",
    );
    assert_status(
        &get("/apis/other.group/v1".into()).await,
        404,
        "NotFound",
        "/apis/other.group/v1",
    );
    let post = h
        .request("POST", METRIC_PATH, h.front_proxy(), masters)
        .await;
    assert_status(&post, 405, "MethodNotAllowed", "POST");
}

#[tokio::test]
async fn discovery_and_openapi_describe_the_group() {
    let h = Harness::start().await;
    let masters = [
        ("X-Remote-User", "admin"),
        ("X-Remote-Group", "system:masters"),
    ];
    let (code, resources) = h
        .get(
            "/apis/external.metrics.k8s.io/v1beta1",
            h.front_proxy(),
            &masters,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(resources["kind"], "APIResourceList");
    assert_eq!(resources["groupVersion"], "external.metrics.k8s.io/v1beta1");
    let metric = &resources["resources"][0];
    assert_eq!(metric["name"], "koinos_rpc_queue_depth");
    assert_eq!(metric["namespaced"], true);
    assert_eq!(metric["verbs"], serde_json::json!(["get"]));

    let (_, groups) = h.get("/apis", h.front_proxy(), &masters).await;
    assert_eq!(groups["kind"], "APIGroupList");
    assert_eq!(groups["groups"][0]["name"], "external.metrics.k8s.io");
    assert_eq!(
        groups["groups"][0]["preferredVersion"]["version"],
        "v1beta1"
    );
    let (_, group) = h
        .get("/apis/external.metrics.k8s.io", h.front_proxy(), &masters)
        .await;
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(
        group["versions"][0]["groupVersion"],
        "external.metrics.k8s.io/v1beta1"
    );

    let (code, v2) = h.get("/openapi/v2", h.front_proxy(), &masters).await;
    assert_eq!((code, &v2["swagger"]), (200, &Value::from("2.0")));
    let (code, v3) = h.get("/openapi/v3", h.front_proxy(), &masters).await;
    assert_eq!((code, &v3["paths"]), (200, &serde_json::json!({})));
}

#[tokio::test]
async fn the_aggregator_reads_openapi_as_an_authenticated_user() {
    // The aggregator's OpenAPI downloader names a bare `system:aggregator`, no groups: like a
    // generic API server, the user is given `system:authenticated`, which RBAC's discovery
    // role is bound to.
    let h = Harness::start().await;
    let headers = [("X-Remote-User", "system:aggregator")];
    let (code, body) = h.get("/openapi/v2", h.front_proxy(), &headers).await;
    assert_eq!(code, 200, "{body}");
    let accesses = h.reviews.accesses.lock().unwrap().clone();
    assert_eq!(accesses.len(), 1);
    assert_eq!(accesses[0].0.username, "system:aggregator");
    assert_eq!(accesses[0].0.groups, ["system:authenticated"]);
}
