//! The metrics API over real HTTPS connections: TLS with and without client certificates,
//! the front-proxy and bearer-token paths, review caching, and every answer's status and
//! body. The API server's reviews and the broker are fakes here (the e2e suite runs the real
//! ones); certificates are generated per test.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::authn::UserInfo;
use super::authz::{Attributes, Decision};
use super::{MetricsApiServer, Reviews, ServingCert};
use crate::broker::{BoxFuture, BrokerReadError, BrokerReader};

const METRIC_PATH: &str =
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/koinos/koinos_rpc_queue_depth";
const HPA_SELECTOR: &str = "labelSelector=cluster%3Dnode%2Cqueue%3Dkoinos.rpc.block_store";

/// Queue depths by (namespace, cluster, queue); a cluster named `down` has an unreachable broker.
struct FakeBroker;

impl BrokerReader for FakeBroker {
    fn queue_depth<'a>(
        &'a self,
        namespace: &'a str,
        cluster: &'a str,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerReadError>> {
        Box::pin(async move {
            match (namespace, cluster, queue) {
                ("koinos", "node", "koinos.rpc.block_store") => Ok(42),
                ("koinos", "node", _) => Err(BrokerReadError::UnknownQueue {
                    namespace: namespace.into(),
                    cluster: cluster.into(),
                    queue: queue.into(),
                }),
                ("koinos", "down", _) => Err(BrokerReadError::Unavailable {
                    namespace: namespace.into(),
                    cluster: cluster.into(),
                    reason: "connection refused".into(),
                }),
                _ => Err(BrokerReadError::UnknownCluster {
                    namespace: namespace.into(),
                    cluster: cluster.into(),
                }),
            }
        })
    }
}

/// Token `good` is user `alice`; alice may list the metric in `koinos` only. Every review is
/// recorded.
#[derive(Default)]
struct FakeReviews {
    tokens: Mutex<Vec<String>>,
    accesses: Mutex<Vec<(UserInfo, Attributes)>>,
}

impl Reviews for FakeReviews {
    fn token_review<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, String>> {
        self.tokens.lock().unwrap().push(token.to_string());
        Box::pin(async move {
            Ok((token == "good").then(|| UserInfo {
                username: "alice".into(),
                groups: vec!["system:authenticated".into()],
                ..Default::default()
            }))
        })
    }

    fn access_review<'a>(
        &'a self,
        user: &'a UserInfo,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<Decision, String>> {
        self.accesses
            .lock()
            .unwrap()
            .push((user.clone(), attributes.clone()));
        let allowed = match attributes {
            Attributes::Resource {
                namespace, verb, ..
            } => namespace == "koinos" && verb == "list",
            Attributes::NonResource { .. } => true,
        };
        Box::pin(async move {
            Ok(Decision {
                allowed,
                reason: if allowed { "" } else { "no RBAC rule" }.into(),
            })
        })
    }
}

/// A CA and client certificates it issues.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    fn client(&self, common_name: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone()],
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
    }
}

struct Harness {
    addr: SocketAddr,
    server_cert: CertificateDer<'static>,
    reviews: Arc<FakeReviews>,
    front_proxy_ca: Ca,
}

impl Harness {
    async fn start() -> Self {
        let reviews = Arc::new(FakeReviews::default());
        let server = MetricsApiServer::bind_with_reviews(
            "127.0.0.1:0".parse().unwrap(),
            &ServingCert::SelfSigned {
                names: vec!["localhost".into()],
            },
            reviews.clone(),
            Arc::new(FakeBroker),
        )
        .await
        .unwrap();
        let front_proxy_ca = Ca::new("front-proxy-ca");
        // As kube-apiserver publishes it in extension-apiserver-authentication.
        server
            .set_front_proxy_config(&BTreeMap::from([
                (
                    "requestheader-client-ca-file".into(),
                    front_proxy_ca.pem.clone(),
                ),
                (
                    "requestheader-allowed-names".into(),
                    r#"["front-proxy-client"]"#.into(),
                ),
                (
                    "requestheader-username-headers".into(),
                    r#"["X-Remote-User"]"#.into(),
                ),
                (
                    "requestheader-group-headers".into(),
                    r#"["X-Remote-Group"]"#.into(),
                ),
                (
                    "requestheader-extra-headers-prefix".into(),
                    r#"["X-Remote-Extra-"]"#.into(),
                ),
            ]))
            .unwrap();
        let addr = server.local_addr();
        let server_cert = CertificateDer::from(server.serving_certificate().to_vec());
        tokio::spawn(server.serve(std::future::pending()));
        Self {
            addr,
            server_cert,
            reviews,
            front_proxy_ca,
        }
    }

    /// `GET path` over HTTPS (trusting the self-signed serving certificate for `localhost`),
    /// with an optional client certificate and extra header lines; returns status and JSON.
    async fn get(
        &self,
        path: &str,
        client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        self.request("GET", path, client_cert, headers).await
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut roots = RootCertStore::empty();
        roots.add(self.server_cert.clone()).unwrap();
        let builder = ClientConfig::builder_with_provider(super::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client_cert {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
            None => builder.with_no_client_auth(),
        };
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let mut tls = TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake with the self-signed serving certificate");
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        if let Err(error) = tls.read_to_end(&mut response).await {
            assert!(!response.is_empty(), "reading the response: {error}");
        }
        let response = String::from_utf8(response).unwrap();
        let code = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1;
        let json = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.into()));
        (code, json)
    }

    fn front_proxy(&self) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        Some(self.front_proxy_ca.client("front-proxy-client"))
    }
}

fn assert_status(answer: &(u16, Value), code: u16, reason: &str, message_part: &str) {
    let (got, body) = answer;
    assert_eq!(*got, code, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
}

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
        ["system:serviceaccounts", "system:authenticated"]
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
