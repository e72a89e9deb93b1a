//! Who may read the metrics API: authentication (`authn`) then authorization (`authz`), with
//! the API server doing the reviews.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderMap, Method};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use kube::{Api, Client};
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::CertificateDer;
use tracing::{info, warn};

use super::authn::{AUTHENTICATION_CONFIG_MAP, FrontProxy, NotFrontProxy, UserInfo, bearer_token};
use super::authz::{Attributes, Decision, PRIVILEGED_GROUP};
use super::cache::TtlCache;
use crate::broker::BoxFuture;

/// How long a review's answer is reused (the generic API server's default).
const REVIEW_TTL: Duration = Duration::from_secs(10);
const REVIEW_CACHE_ENTRIES: usize = 4096;
/// The group of every authenticated user.
const AUTHENTICATED_GROUP: &str = "system:authenticated";

/// The API server's TokenReview and SubjectAccessReview.
pub trait Reviews: Send + Sync + 'static {
    /// The user a bearer token belongs to; `None` when the API server does not accept it.
    fn token_review<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, String>>;

    fn access_review<'a>(
        &'a self,
        user: &'a UserInfo,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<Decision, String>>;
}

/// [`Reviews`] by the API server `client` talks to (needs `system:auth-delegator`).
pub struct KubeReviews {
    pub client: Client,
}

impl Reviews for KubeReviews {
    fn token_review<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, String>> {
        Box::pin(async move {
            let review = TokenReview {
                spec: TokenReviewSpec {
                    token: token.to_string(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let api: Api<TokenReview> = Api::all(self.client.clone());
            let status = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| format!("TokenReview: {e}"))?
                .status
                .unwrap_or_default();
            if status.authenticated != Some(true) {
                return Ok(None);
            }
            let user = status.user.unwrap_or_default();
            Ok(Some(UserInfo {
                username: user.username.unwrap_or_default(),
                uid: user.uid,
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default().into_iter().collect(),
            }))
        })
    }

    fn access_review<'a>(
        &'a self,
        user: &'a UserInfo,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<Decision, String>> {
        Box::pin(async move {
            let mut spec = SubjectAccessReviewSpec {
                user: Some(user.username.clone()),
                uid: user.uid.clone(),
                groups: Some(user.groups.clone()),
                extra: Some(user.extra.clone().into_iter().collect()),
                ..Default::default()
            };
            match attributes.clone() {
                Attributes::Resource {
                    verb,
                    namespace,
                    group,
                    version,
                    resource,
                    name,
                } => {
                    spec.resource_attributes = Some(ResourceAttributes {
                        verb: Some(verb),
                        namespace: Some(namespace),
                        group: Some(group),
                        version: Some(version),
                        resource: Some(resource),
                        name,
                        ..Default::default()
                    })
                }
                Attributes::NonResource { verb, path } => {
                    spec.non_resource_attributes = Some(NonResourceAttributes {
                        verb: Some(verb),
                        path: Some(path),
                    })
                }
            }
            let review = SubjectAccessReview {
                spec,
                ..Default::default()
            };
            let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
            let status = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| format!("SubjectAccessReview: {e}"))?
                .status
                .unwrap_or_default();
            Ok(Decision {
                allowed: status.allowed && status.denied != Some(true),
                reason: status.reason.unwrap_or_default(),
            })
        })
    }
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denial {
    /// 401: no identity could be established.
    Unauthenticated(String),
    /// 403: the identity may not do this.
    Forbidden(String),
    /// 500: a review could not be made.
    ReviewFailed(String),
}

/// Authentication and authorization of every request but the health checks.
pub struct Access {
    front_proxy: RwLock<Option<Arc<FrontProxy>>>,
    reviews: Arc<dyn Reviews>,
    tokens: TtlCache<Option<UserInfo>>,
    decisions: TtlCache<Decision>,
}

impl Access {
    pub fn new(reviews: Arc<dyn Reviews>) -> Self {
        Self {
            front_proxy: RwLock::new(None),
            reviews,
            tokens: TtlCache::new(REVIEW_TTL, REVIEW_CACHE_ENTRIES),
            decisions: TtlCache::new(REVIEW_TTL, REVIEW_CACHE_ENTRIES),
        }
    }

    pub fn set_front_proxy(&self, front_proxy: Option<FrontProxy>) {
        *self.front_proxy.write().expect("front proxy lock") = front_proxy.map(Arc::new);
    }

    /// The user making this request, if it may make it.
    pub async fn check(
        &self,
        client_chain: &[CertificateDer<'static>],
        headers: &HeaderMap,
        method: &Method,
        path: &str,
    ) -> Result<UserInfo, Denial> {
        let user = self.authenticate(client_chain, headers).await?;
        let attributes = Attributes::of(method, path);
        if user.groups.iter().any(|g| g == PRIVILEGED_GROUP) {
            return Ok(user);
        }
        let key = serde_json::to_string(&(&user, &attributes)).expect("serializable");
        let decision = match self.decisions.get(&key) {
            Some(decision) => decision,
            None => {
                let decision = self
                    .reviews
                    .access_review(&user, &attributes)
                    .await
                    .map_err(Denial::ReviewFailed)?;
                self.decisions.insert(key, decision.clone());
                decision
            }
        };
        if decision.allowed {
            Ok(user)
        } else {
            let reason = if decision.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", decision.reason)
            };
            Err(Denial::Forbidden(format!(
                "User {:?} {}{reason}",
                user.username,
                attributes.describe()
            )))
        }
    }

    /// The user, with `system:authenticated` added as a generic API server does (RBAC's
    /// discovery roles are bound to it: the aggregator fetches `/openapi/v2` as a bare
    /// `system:aggregator`).
    async fn authenticate(
        &self,
        client_chain: &[CertificateDer<'static>],
        headers: &HeaderMap,
    ) -> Result<UserInfo, Denial> {
        let mut user = self.identify(client_chain, headers).await?;
        if !user.groups.iter().any(|g| g == AUTHENTICATED_GROUP) {
            user.groups.push(AUTHENTICATED_GROUP.to_string());
        }
        Ok(user)
    }

    async fn identify(
        &self,
        client_chain: &[CertificateDer<'static>],
        headers: &HeaderMap,
    ) -> Result<UserInfo, Denial> {
        let front_proxy = self.front_proxy.read().expect("front proxy lock").clone();
        let not_front_proxy = match &front_proxy {
            Some(front_proxy) => match front_proxy.authenticate(client_chain, headers) {
                Ok(user) => return Ok(user),
                Err(why) => why,
            },
            None if client_chain.is_empty() => NotFrontProxy::NoCertificate,
            None => NotFrontProxy::Untrusted("no request-header CA is known yet".into()),
        };
        let Some(token) = bearer_token(headers) else {
            return Err(Denial::Unauthenticated(match not_front_proxy {
                NotFrontProxy::NoCertificate => "no client certificate or bearer token".into(),
                other => other.to_string(),
            }));
        };
        let key = hex::encode(Sha256::digest(token.as_bytes()));
        let user = match self.tokens.get(&key) {
            Some(user) => user,
            None => {
                let user = self
                    .reviews
                    .token_review(token)
                    .await
                    .map_err(Denial::Unauthenticated)?;
                self.tokens.insert(key, user.clone());
                user
            }
        };
        user.ok_or_else(|| Denial::Unauthenticated("the bearer token was not accepted".into()))
    }
}

/// Keeps `access`'s front-proxy settings in step with the API server's
/// `extension-apiserver-authentication` ConfigMap (re-read every minute, sooner after a failure).
pub async fn follow_front_proxy_config(client: Client, access: Arc<Access>) {
    let (namespace, name) = AUTHENTICATION_CONFIG_MAP;
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let mut last_error = None;
    loop {
        let outcome = match api.get(name).await {
            Ok(config_map) => FrontProxy::from_config_map(&config_map.data.unwrap_or_default()),
            Err(e) => Err(e.to_string()),
        };
        let wait = match outcome {
            Ok(front_proxy) => {
                if last_error.take().is_some() || front_proxy.is_none() {
                    info!(
                        front_proxy = front_proxy.is_some(),
                        "metrics API: read {namespace}/{name}"
                    );
                }
                access.set_front_proxy(front_proxy);
                Duration::from_secs(60)
            }
            Err(error) => {
                if last_error.as_ref() != Some(&error) {
                    warn!(%error, "metrics API: cannot read {namespace}/{name}; aggregator requests are refused until it can");
                }
                last_error = Some(error);
                Duration::from_secs(10)
            }
        };
        tokio::time::sleep(wait).await;
    }
}
