//! `external.metrics.k8s.io/v1beta1`, served by the operator (docs/design.md "Replicas and autoscaling"): the aggregated API
//! the kube-aggregator proxies the HPA controller's requests to. It serves one metric,
//! `koinos_rpc_queue_depth`, whose series are the RPC queues of each KoinosCluster, read from
//! the cluster's broker through a [`BrokerReader`] at request time.
//!
//! Like any aggregated API server it speaks HTTPS ([`ServingCert`]), authenticates the
//! aggregator's front proxy or a bearer token and authorizes with SubjectAccessReviews (the
//! API server decides; see `access`). The chart registers the APIService and grants the
//! delegation RBAC (`externalMetrics.enabled`).

mod access;
mod authn;
mod authz;
mod cache;
mod responses;
mod routes;
mod selector;
#[cfg(test)]
mod tests;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use kube::Client;
use tracing::info;

use self::access::{Access, follow_front_proxy_config};
pub use self::access::{KubeReviews, Reviews};
use self::routes::AppState;
pub use self::tls::ServingCert;
use self::tls::{PeerInfo, TlsListener};
use crate::broker::BrokerReader;

/// The API group served.
pub const GROUP: &str = "external.metrics.k8s.io";
pub const VERSION: &str = "v1beta1";
pub const GROUP_VERSION: &str = "external.metrics.k8s.io/v1beta1";

/// A bound metrics API server; [`MetricsApiServer::serve`] runs it.
pub struct MetricsApiServer {
    listener: TlsListener,
    local_addr: SocketAddr,
    serving_cert: tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    access: Arc<Access>,
    reader: Arc<dyn BrokerReader>,
    client: Option<Client>,
}

impl MetricsApiServer {
    /// Binds `addr` with the serving certificate `cert`. `client` makes the TokenReviews and
    /// SubjectAccessReviews and reads the front-proxy settings; `reader` reads the brokers.
    pub async fn bind(
        addr: SocketAddr,
        cert: &ServingCert,
        client: Client,
        reader: Arc<dyn BrokerReader>,
    ) -> anyhow::Result<Self> {
        let reviews = Arc::new(KubeReviews {
            client: client.clone(),
        });
        let mut server = Self::bind_with_reviews(addr, cert, reviews, reader).await?;
        server.client = Some(client);
        Ok(server)
    }

    /// Like [`Self::bind`] with another source of reviews and no front proxy until
    /// [`Self::set_front_proxy_config`] (tests).
    pub(crate) async fn bind_with_reviews(
        addr: SocketAddr,
        cert: &ServingCert,
        reviews: Arc<dyn Reviews>,
        reader: Arc<dyn BrokerReader>,
    ) -> anyhow::Result<Self> {
        let (chain, key) = tls::serving_identity(cert)?;
        let serving_cert = chain[0].clone();
        let config = tls::server_config(chain, key)?;
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics API to {addr}"))?;
        let local_addr = tcp.local_addr()?;
        let listener = TlsListener::new(tcp, config)?;
        Ok(Self {
            listener,
            local_addr,
            serving_cert,
            access: Arc::new(Access::new(reviews)),
            reader,
            client: None,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The serving certificate (DER), e.g. to trust a self-signed one.
    pub fn serving_certificate(&self) -> &[u8] {
        self.serving_cert.as_ref()
    }

    /// Uses the request-header settings of an `extension-apiserver-authentication` ConfigMap.
    #[cfg(test)]
    pub(crate) fn set_front_proxy_config(
        &self,
        data: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), String> {
        self.access
            .set_front_proxy(authn::FrontProxy::from_config_map(data)?);
        Ok(())
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let follower = self
            .client
            .clone()
            .map(|client| tokio::spawn(follow_front_proxy_config(client, self.access.clone())));
        info!(addr = %self.local_addr, "metrics API: serving {GROUP_VERSION}");
        let app = routes::router(AppState {
            access: self.access,
            reader: self.reader,
        });
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        if let Some(follower) = follower {
            follower.abort();
        }
        served
    }
}
