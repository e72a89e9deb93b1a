//! The few calls of RabbitMQ's management HTTP API the operator makes to keep a managed
//! broker's users: list and put users, vhost and topic permissions, delete a user, and count
//! the connections per user; and its RPC queues' mirroring policy ([`super::policy`]). Plain HTTP inside the cluster (the broker's NetworkPolicy admits
//! port 15672 from the operator's pods only), Basic auth as the broker's administrator.
//!
//! Why the HTTP API and not definitions loaded at boot: a definitions file is read once when
//! a node starts, so a new extra service or a rotated password would need a broker restart;
//! the API changes users on a running broker, which is what rotation without losing messages
//! needs. The client is hyper's, already in the tree through kube.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The management API's port on every managed broker node.
pub const MANAGEMENT_PORT: u16 = 15672;

/// A failed call: what was asked and what came back (for logs; the status names only users).
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("{method} {path}: {reason}")]
    Unreachable {
        method: Method,
        path: String,
        reason: String,
    },
    #[error("{method} {path}: HTTP {status}: {body}")]
    Refused {
        method: Method,
        path: String,
        status: StatusCode,
        body: String,
    },
}

/// A user as the API lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct LiveUser {
    pub name: String,
    /// A list in RabbitMQ 3.9 and later, a comma-separated string before.
    #[serde(default)]
    pub tags: Value,
    #[serde(default)]
    pub password_hash: String,
    #[serde(default)]
    pub hashing_algorithm: String,
}

impl LiveUser {
    pub fn has_tag(&self, tag: &str) -> bool {
        match &self.tags {
            Value::Array(tags) => tags.iter().any(|t| t.as_str() == Some(tag)),
            Value::String(tags) => tags.split(',').any(|t| t.trim() == tag),
            _ => false,
        }
    }

    /// Whether `password` is this user's (RabbitMQ's default SHA-256 scheme: base64 of a
    /// 4-byte salt and SHA-256(salt ‖ password)). Another scheme counts as no: the password
    /// is then set again, which is harmless.
    pub fn password_is(&self, password: &str) -> bool {
        if self.hashing_algorithm != "rabbit_password_hashing_sha256" {
            return false;
        }
        let Ok(bytes) = STANDARD.decode(&self.password_hash) else {
            return false;
        };
        if bytes.len() != 4 + 32 {
            return false;
        }
        let (salt, hash) = bytes.split_at(4);
        let mut digest = Sha256::new();
        digest.update(salt);
        digest.update(password.as_bytes());
        digest.finalize().as_slice() == hash
    }
}

/// A user's permissions in a vhost as the API lists them.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct LivePermissions {
    pub user: String,
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// A user's topic permissions on one exchange as the API lists them.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct LiveTopicPermissions {
    pub user: String,
    pub exchange: String,
    pub write: String,
    pub read: String,
}

#[derive(Deserialize)]
struct LiveConnection {
    #[serde(default)]
    user: String,
}

/// A client of one broker's management API.
#[derive(Clone)]
pub struct Management {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    authorization: String,
    timeout: Duration,
}

/// `/` of a vhost as a path segment.
fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Management {
    /// `base` is `http://host:15672`; every call is bounded by `timeout`.
    pub fn new(base: &str, username: &str, password: &str, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: base.trim_end_matches('/').to_string(),
            authorization: format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{password}"))
            ),
            timeout,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Bytes, ManagementError> {
        let unreachable = |reason: String| ManagementError::Unreachable {
            method: method.clone(),
            path: path.to_string(),
            reason,
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(http::header::AUTHORIZATION, &self.authorization)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| unreachable(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(format!("{e:?}")))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            Ok::<_, ManagementError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))??;
        if !status.is_success() {
            return Err(ManagementError::Refused {
                method,
                path: path.to_string(),
                status,
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
        }
        Ok(body)
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ManagementError> {
        let body = self.call(Method::GET, path, None).await?;
        serde_json::from_slice(&body).map_err(|e| ManagementError::Unreachable {
            method: Method::GET,
            path: path.to_string(),
            reason: format!("unexpected answer: {e}"),
        })
    }

    /// Every user of the broker.
    pub async fn users(&self) -> Result<Vec<LiveUser>, ManagementError> {
        self.get("/api/users").await
    }

    /// Creates or updates a user: its password and tags.
    pub async fn put_user(
        &self,
        name: &str,
        password: &str,
        tags: &str,
    ) -> Result<(), ManagementError> {
        let body = json!({"password": password, "tags": tags});
        let path = format!("/api/users/{}", segment(name));
        self.call(Method::PUT, &path, Some(body)).await.map(drop)
    }

    /// Deletes a user (its open connections are closed by the broker).
    pub async fn delete_user(&self, name: &str) -> Result<(), ManagementError> {
        let path = format!("/api/users/{}", segment(name));
        self.call(Method::DELETE, &path, None).await.map(drop)
    }

    /// Every user's permissions in `vhost`.
    pub async fn permissions(&self, vhost: &str) -> Result<Vec<LivePermissions>, ManagementError> {
        self.get(&format!("/api/vhosts/{}/permissions", segment(vhost)))
            .await
    }

    pub async fn put_permissions(
        &self,
        vhost: &str,
        user: &str,
        configure: &str,
        write: &str,
        read: &str,
    ) -> Result<(), ManagementError> {
        let path = format!("/api/permissions/{}/{}", segment(vhost), segment(user));
        let body = json!({"configure": configure, "write": write, "read": read});
        self.call(Method::PUT, &path, Some(body)).await.map(drop)
    }

    /// Every user's topic permissions in `vhost`.
    pub async fn topic_permissions(
        &self,
        vhost: &str,
    ) -> Result<Vec<LiveTopicPermissions>, ManagementError> {
        self.get(&format!("/api/vhosts/{}/topic-permissions", segment(vhost)))
            .await
    }

    pub async fn put_topic_permissions(
        &self,
        vhost: &str,
        user: &str,
        exchange: &str,
        write: &str,
        read: &str,
    ) -> Result<(), ManagementError> {
        let path = format!(
            "/api/topic-permissions/{}/{}",
            segment(vhost),
            segment(user)
        );
        let body = json!({"exchange": exchange, "write": write, "read": read});
        self.call(Method::PUT, &path, Some(body)).await.map(drop)
    }

    /// The broker's version (`rabbitmq_version` of `/api/overview`, e.g. `3.10.8`).
    pub async fn version(&self) -> Result<String, ManagementError> {
        #[derive(Deserialize)]
        struct Overview {
            rabbitmq_version: String,
        }
        let overview: Overview = self.get("/api/overview?columns=rabbitmq_version").await?;
        Ok(overview.rabbitmq_version)
    }

    /// The policy `name` of `vhost` as the API returns it, `None` when there is none.
    pub async fn policy(&self, vhost: &str, name: &str) -> Result<Option<Value>, ManagementError> {
        let path = format!("/api/policies/{}/{}", segment(vhost), segment(name));
        match self.get(&path).await {
            Ok(policy) => Ok(Some(policy)),
            Err(ManagementError::Refused { status, .. }) if status == StatusCode::NOT_FOUND => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Creates or replaces a policy (`body`: pattern, definition, priority, apply-to).
    pub async fn put_policy(
        &self,
        vhost: &str,
        name: &str,
        body: Value,
    ) -> Result<(), ManagementError> {
        let path = format!("/api/policies/{}/{}", segment(vhost), segment(name));
        self.call(Method::PUT, &path, Some(body)).await.map(drop)
    }

    pub async fn delete_policy(&self, vhost: &str, name: &str) -> Result<(), ManagementError> {
        let path = format!("/api/policies/{}/{}", segment(vhost), segment(name));
        self.call(Method::DELETE, &path, None).await.map(drop)
    }

    /// A queue as the API describes it (`policy`, `messages`, `durable`, ...).
    pub async fn queue(&self, vhost: &str, name: &str) -> Result<Value, ManagementError> {
        self.get(&format!("/api/queues/{}/{}", segment(vhost), segment(name)))
            .await
    }

    /// Open connections per user, in `vhost`.
    pub async fn connections_per_user(
        &self,
        vhost: &str,
    ) -> Result<BTreeMap<String, usize>, ManagementError> {
        let connections: Vec<LiveConnection> = self
            .get(&format!(
                "/api/vhosts/{}/connections?columns=user",
                segment(vhost)
            ))
            .await?;
        let mut per_user = BTreeMap::new();
        for connection in connections {
            *per_user.entry(connection.user).or_insert(0) += 1;
        }
        Ok(per_user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vhost_is_one_path_segment() {
        assert_eq!(segment("/"), "%2F");
        assert_eq!(segment("koinos-e2e.1"), "koinos-e2e.1");
    }

    #[test]
    fn the_sha256_hash_scheme_verifies_the_password_it_was_made_from() {
        let salt = [1u8, 2, 3, 4];
        let mut digest = Sha256::new();
        digest.update(salt);
        digest.update(b"secret");
        let mut bytes = salt.to_vec();
        bytes.extend_from_slice(digest.finalize().as_slice());
        let user = LiveUser {
            name: "chain-abc".into(),
            tags: json!(["koinos-operator"]),
            password_hash: STANDARD.encode(bytes),
            hashing_algorithm: "rabbit_password_hashing_sha256".into(),
        };
        assert!(user.password_is("secret"));
        assert!(!user.password_is("Secret"));
        assert!(user.has_tag("koinos-operator"));
        let old_style = LiveUser {
            tags: json!("administrator,koinos-operator"),
            ..user
        };
        assert!(old_style.has_tag("koinos-operator"));
    }
}
