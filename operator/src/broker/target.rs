//! Which broker a cluster uses and which queues may be read there (pure).
//!
//! The URL is the cluster's own: the managed broker's generated `<cluster>-amqp` Secret (key
//! `url`) or the Secret an external broker's `spec.amqp.external.urlSecretRef` names. The
//! operator reads with exactly the credentials the cluster's services use.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use koinos_mq::{AMQPScheme, CaBundle, parse_url};

use super::ReadFailure;
use crate::model::ValidatedCluster;
use crate::model::naming::{amqp_ca_secret, amqp_url_secret};
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
    /// The CA of an `amqps://` broker (`spec.amqp.external.tls`), from its Secret.
    pub ca: Option<CaBundle>,
}

impl std::fmt::Debug for BrokerTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerTarget")
            .field("endpoint", &self.endpoint)
            .field("queues", &self.queues)
            .field("chain_enabled", &self.chain_enabled)
            .field("tls_ca", &self.ca.is_some())
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

/// The target from the cluster, its URL Secret and, with `spec.amqp.external.tls`, its CA
/// Secret (`None`: the Secret does not exist). Failures carry stable messages: they become a
/// status condition.
pub fn target(
    vc: &ValidatedCluster,
    secret: Option<&Secret>,
    ca_secret: Option<&Secret>,
) -> Result<BrokerTarget, ReadFailure> {
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
    let ca = ca_bundle(vc, ca_secret)?;
    if ca.is_some() && !parse_url(&url).is_ok_and(|uri| uri.scheme == AMQPScheme::AMQPS) {
        // The services refuse this pair at start-up too: a CA means the user wants TLS.
        return Err(credentials(format!(
            "spec.amqp.external.tls is set but Secret {}/{} key {} is not an amqps:// URL",
            vc.namespace, reference.name, reference.key
        )));
    }
    Ok(BrokerTarget {
        url,
        endpoint,
        queues: rpc_queues(vc),
        chain_enabled: vc.service(ServiceKind::Chain).is_some(),
        ca,
    })
}

/// The broker's CA from its Secret, when `spec.amqp.external.tls` names one.
fn ca_bundle(
    vc: &ValidatedCluster,
    secret: Option<&Secret>,
) -> Result<Option<CaBundle>, ReadFailure> {
    let Some(reference) = amqp_ca_secret(vc) else {
        return Ok(None);
    };
    let credentials = |message: String| ReadFailure::Credentials { message };
    let source = format!("Secret {}/{}", vc.namespace, reference.name);
    let secret =
        secret.ok_or_else(|| credentials(format!("{source} (the broker's CA) does not exist")))?;
    let pem = secret
        .data
        .as_ref()
        .and_then(|data| data.get(&reference.key))
        .ok_or_else(|| {
            credentials(format!(
                "{source} has no key {} (the broker's CA)",
                reference.key
            ))
        })?;
    CaBundle::from_pem(&pem.0, &format!("{source} key {}", reference.key))
        .map(Some)
        .map_err(|error| credentials(error.to_string()))
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
        let target = target(&vc, Some(&secret("url", url)), None).unwrap();
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
        let target = target(&vc, Some(&secret("amqp-url", url)), None).unwrap();
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
            message(target(&vc, None, None)),
            "Secret ns/demo-amqp-reader (the broker URL) does not exist"
        );
        assert_eq!(
            message(target(&vc, Some(&secret("username", "x")), None)),
            "Secret ns/demo-amqp-reader has no key url (the broker URL)"
        );
        assert_eq!(
            message(target(&vc, Some(&secret("url", "http://nope:1/")), None)),
            "Secret ns/demo-amqp-reader key url is not an AMQP URL"
        );
    }

    /// A PEM CA certificate (generated once with openssl; any certificate will do here).
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUFkBZSpxoZAK45WVAIZcBFmA4B+cwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOa29pbm9zLXRlc3QtY2EwHhcNMjYxMjA2MDQzNzA2WhcNMzYx
MjAzMDQzNzA2WjAZMRcwFQYDVQQDDA5rb2lub3MtdGVzdC1jYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABE44/yd7alQecmS8PdRCazG1wF2/8VRM2GABWRAK4MZN
tKlJ6dxlTr2JJuQ/9U/NZrYwAuleWbb8+BLCRAtbd2WjYzBhMB0GA1UdDgQWBBRB
KCm9tSTPz0l60DIP1a843oQPbTAfBgNVHSMEGDAWgBRBKCm9tSTPz0l60DIP1a84
3oQPbTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQD
AgNIADBFAiAg2fzXcNCD6wc8McRam3VjtxxUXba/LpOvV7nOdXyliwIhAOIWTeH0
guKsk2hgOVuiylVZOU6d9JYy+uel5hEhnI6p
-----END CERTIFICATE-----
";

    #[test]
    fn an_amqps_broker_s_ca_comes_from_its_secret_and_needs_an_amqps_url() {
        let vc = cluster(
            serde_json::json!({"external": {
                "urlSecretRef": {"name": "mq", "key": "url"},
                "tls": {"caSecretRef": {"name": "mq-ca", "key": "ca.crt"}},
            }}),
            serde_json::json!({}),
        );
        let url = secret("url", "amqps://user:pw@mq.example.com/koinos");
        let ca = secret("ca.crt", CA_PEM);
        let tls = target(&vc, Some(&url), Some(&ca)).unwrap();
        assert_eq!(tls.endpoint, "amqps://mq.example.com:5671/koinos");
        assert_eq!(
            tls.ca,
            Some(CaBundle::from_pem(CA_PEM.as_bytes(), "").unwrap())
        );

        let message = |result: Result<BrokerTarget, ReadFailure>| match result {
            Err(ReadFailure::Credentials { message }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message(target(&vc, Some(&url), None)),
            "Secret ns/mq-ca (the broker's CA) does not exist"
        );
        assert_eq!(
            message(target(&vc, Some(&url), Some(&secret("ca.pem", CA_PEM)))),
            "Secret ns/mq-ca has no key ca.crt (the broker's CA)"
        );
        let garbage = secret("ca.crt", "not a certificate");
        assert!(
            message(target(&vc, Some(&url), Some(&garbage)))
                .starts_with("CA bundle Secret ns/mq-ca key ca.crt: no PEM certificate")
        );
        let plain = secret("url", "amqp://user:pw@mq.example.com/koinos");
        assert_eq!(
            message(target(&vc, Some(&plain), Some(&ca))),
            "spec.amqp.external.tls is set but Secret ns/mq key url is not an amqps:// URL"
        );
    }
}
