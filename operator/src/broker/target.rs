//! Which broker a cluster uses and which queues may be read there (pure).
//!
//! The URL is the cluster's own: the managed broker's generated `<cluster>-amqp` Secret (key
//! `url`) or the Secret an external broker's `spec.amqp.external.urlSecretRef` names. The
//! operator reads with exactly the credentials the cluster's services use.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use koinos_mq::parse_url;

use super::ReadFailure;
use crate::model::ValidatedCluster;
use crate::model::naming::amqp_url_secret;
use crate::model::profile::ServiceKind;

/// A cluster's broker and what the operator may read there.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerTarget {
    /// The AMQP URL, credentials included: never log it, use [`BrokerTarget::endpoint`].
    pub url: String,
    /// `amqp://host:port/vhost`, without credentials: for messages.
    pub endpoint: String,
    /// `koinos.rpc.<service>` queue -> spec name, for every enabled service that has one, and
    /// each extra service's queue -> its name.
    pub queues: BTreeMap<String, String>,
    /// Whether the chain service is enabled (otherwise nobody answers `get_head_info`).
    pub chain_enabled: bool,
}

impl std::fmt::Debug for BrokerTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerTarget")
            .field("endpoint", &self.endpoint)
            .field("queues", &self.queues)
            .field("chain_enabled", &self.chain_enabled)
            .finish_non_exhaustive()
    }
}

/// The RPC queues of the enabled services: queue name -> spec name; and of the extra
/// services: their queue -> their name (validate keeps both apart).
pub fn rpc_queues(vc: &ValidatedCluster) -> BTreeMap<String, String> {
    let builtin = vc.services.iter().filter_map(|s| {
        let queue = s.profile.rpc_queue?;
        Some((queue.to_string(), s.profile.spec_name.to_string()))
    });
    let extra = vc
        .extra_services
        .iter()
        .map(|e| (e.queue.clone(), e.name.clone()));
    builtin.chain(extra).collect()
}

/// The target from the cluster and its URL Secret (`None`: the Secret does not exist).
/// Failures carry stable messages: they become a status condition.
pub fn target(vc: &ValidatedCluster, secret: Option<&Secret>) -> Result<BrokerTarget, ReadFailure> {
    let reference = amqp_url_secret(vc);
    let credentials = |message: String| ReadFailure::Credentials { message };
    let secret = secret.ok_or_else(|| {
        credentials(format!(
            "Secret {}/{} (the broker URL) does not exist",
            vc.namespace, reference.name
        ))
    })?;
    let url = secret
        .data
        .as_ref()
        .and_then(|data| data.get(&reference.key))
        .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok())
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
        .ok_or_else(|| {
            credentials(format!(
                "Secret {}/{} has no key {} (the broker URL)",
                vc.namespace, reference.name, reference.key
            ))
        })?;
    let endpoint = endpoint(&url).ok_or_else(|| {
        credentials(format!(
            "Secret {}/{} key {} is not an AMQP URL",
            vc.namespace, reference.name, reference.key
        ))
    })?;
    Ok(BrokerTarget {
        url,
        endpoint,
        queues: rpc_queues(vc),
        chain_enabled: vc.service(ServiceKind::Chain).is_some(),
    })
}

/// `amqp://host:port/vhost` of a URL, without credentials; `None` if it does not parse.
pub fn endpoint(url: &str) -> Option<String> {
    let uri = parse_url(url).ok()?;
    let scheme = if url.trim_start().starts_with("amqps:") {
        "amqps"
    } else {
        "amqp"
    };
    let vhost = if uri.vhost == "/" { "" } else { &uri.vhost };
    Some(format!(
        "{scheme}://{}:{}/{vhost}",
        uri.authority.host, uri.authority.port
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::KoinosCluster;
    use crate::model::validate;
    use k8s_openapi::ByteString;

    fn cluster(amqp: serde_json::Value, services: serde_json::Value) -> ValidatedCluster {
        let kc: KoinosCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "koinos.io/v1alpha1",
            "kind": "KoinosCluster",
            "metadata": {"name": "demo", "namespace": "ns"},
            "spec": {"network": {"devnet": {}}, "amqp": amqp, "services": services},
        }))
        .unwrap();
        validate(&kc, "ns").unwrap()
    }

    fn secret(key: &str, value: &str) -> Secret {
        Secret {
            data: Some([(key.to_string(), ByteString(value.as_bytes().to_vec()))].into()),
            ..Default::default()
        }
    }

    #[test]
    fn managed_broker_url_comes_from_the_generated_secret() {
        let vc = cluster(serde_json::json!({"managed": {}}), serde_json::json!({}));
        let reference = amqp_url_secret(&vc);
        // The operator's own reader user, never the administrator's `demo-amqp`.
        assert_eq!(
            (reference.name.as_str(), reference.key.as_str()),
            ("demo-amqp-reader", "url")
        );
        let url = "amqp://koinos:s3cret@demo-rabbitmq.ns.svc:5672/";
        let target = target(&vc, Some(&secret("url", url))).unwrap();
        assert_eq!(target.url, url);
        assert_eq!(target.endpoint, "amqp://demo-rabbitmq.ns.svc:5672/");
        assert!(!format!("{target:?}").contains("s3cret"));
        assert!(target.chain_enabled);
        assert_eq!(
            target
                .queues
                .get("koinos.rpc.block_store")
                .map(String::as_str),
            Some("blockStore")
        );
        assert_eq!(
            target.queues.get("koinos.rpc.chain").map(String::as_str),
            Some("chain")
        );
        // Gateways and the producer consume no RPC queue.
        assert!(target.queues.keys().all(|q| q.starts_with("koinos.rpc.")));
        assert!(
            !target
                .queues
                .values()
                .any(|s| s == "jsonrpc" || s == "blockProducer")
        );
    }

    #[test]
    fn external_broker_url_comes_from_the_referenced_secret() {
        let vc = cluster(
            serde_json::json!({"external": {"urlSecretRef": {"name": "mq", "key": "amqp-url"}}}),
            serde_json::json!({"accountHistory": {"enabled": false}}),
        );
        let url = "amqp://user:pw@10.0.0.7:5673/koinos";
        let target = target(&vc, Some(&secret("amqp-url", url))).unwrap();
        assert_eq!(target.endpoint, "amqp://10.0.0.7:5673/koinos");
        assert!(!target.queues.contains_key("koinos.rpc.account_history"));
    }

    #[test]
    fn extra_services_queues_are_read_under_their_names() {
        let kc: KoinosCluster = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "demo", "namespace": "ns"},
            "spec": {"network": {"devnet": {}}, "extraServices": [
                {"name": "indexer", "image": "example/indexer:1"},
                {"name": "notifier", "image": "example/notifier:1", "queue": "acme.notify"},
            ]},
        }))
        .unwrap();
        let vc = validate(&kc, "ns").unwrap();
        let queues = rpc_queues(&vc);
        assert_eq!(queues["koinos.rpc.indexer"], "indexer");
        assert_eq!(queues["acme.notify"], "notifier");
        assert_eq!(queues["koinos.rpc.chain"], "chain");
    }

    #[test]
    fn missing_or_bad_credentials_fail_with_stable_messages() {
        let vc = cluster(serde_json::json!({"managed": {}}), serde_json::json!({}));
        let message = |result: Result<BrokerTarget, ReadFailure>| match result {
            Err(ReadFailure::Credentials { message }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message(target(&vc, None)),
            "Secret ns/demo-amqp-reader (the broker URL) does not exist"
        );
        assert_eq!(
            message(target(&vc, Some(&secret("username", "x")))),
            "Secret ns/demo-amqp-reader has no key url (the broker URL)"
        );
        assert_eq!(
            message(target(&vc, Some(&secret("url", "http://nope:1/")))),
            "Secret ns/demo-amqp-reader key url is not an AMQP URL"
        );
    }
}
