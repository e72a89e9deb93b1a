//! Test support for the metrics API: a fake broker and fake API-server reviews, generated
//! CAs and client certificates, and a server on an ephemeral port spoken to over real HTTPS.

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

use super::super::authn::UserInfo;
use super::super::authz::{Attributes, Decision};
use super::super::{MetricsApiServer, Reviews, ServingCert};
use crate::broker::{BoxFuture, BrokerReadError, BrokerReader};

pub const METRIC_PATH: &str =
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/koinos/koinos_rpc_queue_depth";
pub const HPA_SELECTOR: &str = "labelSelector=cluster%3Dnode%2Cqueue%3Dkoinos.rpc.block_store";

/// Queue depths by (namespace, cluster, queue); a cluster named `down` has an unreachable broker.
pub struct FakeBroker;

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

/// Token `good` is user `alice`; alice may list the metric in `koinos` only; authenticated
/// users may read discovery and OpenAPI. Every review is recorded.
#[derive(Default)]
pub struct FakeReviews {
    pub tokens: Mutex<Vec<String>>,
    pub accesses: Mutex<Vec<(UserInfo, Attributes)>>,
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
            // RBAC's system:discovery role, bound to all authenticated users.
            Attributes::NonResource { .. } => {
                user.groups.iter().any(|g| g == "system:authenticated")
            }
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
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Self {
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

    pub fn client(
        &self,
        common_name: &str,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
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

pub struct Harness {
    addr: SocketAddr,
    server_cert: CertificateDer<'static>,
    pub reviews: Arc<FakeReviews>,
    pub front_proxy_ca: Ca,
}

impl Harness {
    pub async fn start() -> Self {
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
    pub async fn get(
        &self,
        path: &str,
        client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        self.request("GET", path, client_cert, headers).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut roots = RootCertStore::empty();
        roots.add(self.server_cert.clone()).unwrap();
        let builder = ClientConfig::builder_with_provider(super::super::tls::provider())
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

    pub fn front_proxy(&self) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        Some(self.front_proxy_ca.client("front-proxy-client"))
    }
}

pub fn assert_status(answer: &(u16, Value), code: u16, reason: &str, message_part: &str) {
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
