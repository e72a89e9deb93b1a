//! Authentication delegated to the API server, as a generic aggregated API server does it:
//!
//! 1. a client certificate that verifies against the request-header client CA (and, when the
//!    API server names any, carries one of the allowed common names) is the aggregator's front
//!    proxy: the user is what its `X-Remote-User`/`X-Remote-Group`/`X-Remote-Extra-*` headers
//!    say. Those headers are ignored on any other connection;
//! 2. otherwise a bearer token is checked with a TokenReview (cached briefly);
//! 3. anything else is unauthenticated (401).
//!
//! The front proxy's settings come from the ConfigMap the API server publishes,
//! `kube-system/extension-apiserver-authentication`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use serde::Serialize;
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, UnixTime};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use x509_cert::der::Decode as _;

use super::tls::provider;

/// Namespace and name of the ConfigMap holding the request-header settings.
pub const AUTHENTICATION_CONFIG_MAP: (&str, &str) =
    ("kube-system", "extension-apiserver-authentication");

/// An authenticated user, as a SubjectAccessReview names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct UserInfo {
    pub username: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The API server's front proxy (the aggregator), as `extension-apiserver-authentication`
/// describes it.
pub struct FrontProxy {
    verifier: Arc<dyn ClientCertVerifier>,
    allowed_names: Vec<String>,
    username_headers: Vec<String>,
    group_headers: Vec<String>,
    extra_header_prefixes: Vec<String>,
}

/// Why a connection is not the front proxy.
#[derive(Debug, PartialEq, Eq)]
pub enum NotFrontProxy {
    NoCertificate,
    Untrusted(String),
    NameNotAllowed(String),
    NoUsername,
}

impl std::fmt::Display for NotFrontProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoCertificate => write!(f, "no client certificate"),
            Self::Untrusted(why) => write!(
                f,
                "client certificate not signed by the request-header CA: {why}"
            ),
            Self::NameNotAllowed(name) => write!(
                f,
                "client certificate {name:?} is not one of the request-header allowed names"
            ),
            Self::NoUsername => write!(f, "front-proxy request without a user header"),
        }
    }
}

impl FrontProxy {
    /// From the ConfigMap's data; `Ok(None)` when the API server has no request-header CA.
    pub fn from_config_map(data: &BTreeMap<String, String>) -> Result<Option<Self>, String> {
        let Some(ca) = data.get("requestheader-client-ca-file") else {
            return Ok(None);
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            let cert = cert.map_err(|e| format!("requestheader-client-ca-file: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("requestheader-client-ca-file: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| format!("requestheader-client-ca-file: {e}"))?;
        let list = |key: &str, default: &[&str]| -> Result<Vec<String>, String> {
            match data.get(key) {
                None => Ok(default.iter().map(|s| s.to_string()).collect()),
                Some(text) if text.trim().is_empty() => Ok(Vec::new()),
                Some(text) => serde_json::from_str(text).map_err(|e| format!("{key}: {e}")),
            }
        };
        Ok(Some(Self {
            verifier,
            allowed_names: list("requestheader-allowed-names", &[])?,
            username_headers: list("requestheader-username-headers", &["X-Remote-User"])?,
            group_headers: list("requestheader-group-headers", &["X-Remote-Group"])?,
            extra_header_prefixes: list(
                "requestheader-extra-headers-prefix",
                &["X-Remote-Extra-"],
            )?,
        }))
    }

    /// The user the front proxy vouches for, if `chain` is the front proxy's.
    pub fn authenticate(
        &self,
        chain: &[CertificateDer<'static>],
        headers: &HeaderMap,
    ) -> Result<UserInfo, NotFrontProxy> {
        let (leaf, intermediates) = chain.split_first().ok_or(NotFrontProxy::NoCertificate)?;
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|e| NotFrontProxy::Untrusted(e.to_string()))?;
        if !self.allowed_names.is_empty() {
            let name = common_name(leaf).unwrap_or_default();
            if !self.allowed_names.contains(&name) {
                return Err(NotFrontProxy::NameNotAllowed(name));
            }
        }
        let username = self
            .username_headers
            .iter()
            .find_map(|h| {
                header_values(headers, h)
                    .into_iter()
                    .find(|v| !v.is_empty())
            })
            .ok_or(NotFrontProxy::NoUsername)?;
        let groups = self
            .group_headers
            .iter()
            .flat_map(|h| header_values(headers, h))
            .collect();
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in headers {
            let name = name.as_str();
            for prefix in &self.extra_header_prefixes {
                if name.len() > prefix.len()
                    && name[..prefix.len()].eq_ignore_ascii_case(prefix)
                    && let Ok(value) = value.to_str()
                {
                    let key = percent_decode(&name[prefix.len()..].to_ascii_lowercase());
                    extra.entry(key).or_default().push(value.to_string());
                }
            }
        }
        Ok(UserInfo {
            username,
            uid: None,
            groups,
            extra,
        })
    }
}

fn header_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

/// The subject common name of a DER certificate.
pub fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(cert.as_ref()).ok()?;
    let name = cert.tbs_certificate().subject().common_name().ok()??;
    Some(String::from(name))
}

/// Extra keys are percent-encoded in header names (`X-Remote-Extra-Acme.com%2Fproject`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bearer token of an `Authorization` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keys_are_lowercased_and_percent_decoded() {
        assert_eq!(
            percent_decode(&"Acme.com%2Fproject".to_ascii_lowercase()),
            "acme.com/project"
        );
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
        headers.insert("authorization", "Bearer  tok.en ".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("tok.en"));
    }

    #[test]
    fn a_config_map_without_a_request_header_ca_disables_the_front_proxy() {
        assert!(
            FrontProxy::from_config_map(&BTreeMap::new())
                .unwrap()
                .is_none()
        );
        let bad = BTreeMap::from([(
            "requestheader-client-ca-file".to_string(),
            "not a pem".to_string(),
        )]);
        assert!(FrontProxy::from_config_map(&bad).is_err());
    }
}
