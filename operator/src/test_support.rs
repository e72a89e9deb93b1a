//! Test fixtures: KoinosCluster manifests as YAML, validated the way reconcile does.

pub mod fake_api;

use crate::crd::KoinosCluster;
use crate::model::{ValidatedCluster, validate};

/// Parse a KoinosCluster; fills namespace, uid and generation like the API server would.
pub fn fixture(yaml: &str) -> KoinosCluster {
    let mut cluster: KoinosCluster = serde_yaml::from_str(yaml).expect("fixture parses");
    cluster
        .metadata
        .namespace
        .get_or_insert_with(|| "koinos".into());
    cluster
        .metadata
        .uid
        .get_or_insert_with(|| "0b5a7c3e-1d2f-4a6b-9c8d-7e6f5a4b3c2d".into());
    cluster.metadata.generation.get_or_insert(1);
    cluster
}

pub fn validated(yaml: &str) -> ValidatedCluster {
    validate(&fixture(yaml), "default").unwrap_or_else(|e| panic!("fixture is valid: {e}"))
}

pub const DEVNET: &str = r#"
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: devnet}
spec:
  network: {devnet: {}}
"#;

/// An API node following a network: autoscaled stores, exposed gateways, external broker off.
pub const API_NODE: &str = r#"
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: mainnet}
spec:
  network: {genesis: {configMapRef: {name: mainnet-genesis}}}
  image: {repository: ghcr.io/koinos-operator/koinos-services, tag: v0.1.0}
  amqp: {managed: {replicas: 3, storage: {size: 16Gi, storageClassName: fast}}}
  config:
    global: {log-level: debug}
    jsonrpc: {gateway-timeout: 5}
  podOverrides:
    nodeSelector: {pool: koinos}
    tolerations: [{key: dedicated, operator: Equal, value: koinos, effect: NoSchedule}]
  services:
    chain: {storage: {size: 200Gi}}
    blockStore:
      replicas: 2
      storage: {size: 300Gi, retentionPolicy: Delete}
      autoscaling: {enabled: true, minReplicas: 2, maxReplicas: 6, targetQueueDepth: 20}
    mempool: {replicas: 2}
    jsonrpc:
      replicas: 2
      service: {type: LoadBalancer, port: 80}
      autoscaling: {enabled: true, maxReplicas: 8}
    grpc: {enabled: false}
    accountHistory: {image: koinos/koinos-account-history:v1.0.0, healthProbes: false}
    p2p:
      seeds: [/dns4/seed.koinos.io/tcp/8888/p2p/QmSeed]
      service: {type: LoadBalancer}
      podOverrides: {nodeSelector: {zone: edge}}
"#;

/// A mainnet API node: the smallest manifest of a public network.
pub const MAINNET: &str = r#"
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: mainnet}
spec:
  network: {mainnet: {}}
"#;

/// A Harbinger (testnet) node.
pub const HARBINGER: &str = r#"
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: harbinger}
spec:
  network: {harbinger: {}}
"#;

/// Fixed generated material, so snapshots are stable.
pub fn generated() -> crate::controller::build::Generated {
    use sha2::Digest;
    crate::controller::build::Generated {
        amqp: Some(crate::controller::build::rabbitmq::AmqpCredentials {
            username: "koinos".into(),
            password: "s3cretPassw0rdForTests".into(),
            erlang_cookie: "COOKIECOOKIECOOKIE".into(),
            retiring_username: None,
        }),
        // The protocol test vector key (docs/protocol.md "Test vector").
        producer_key: Some(
            koinos_protocol::crypto::PrivateKey::from_bytes(&sha2::Sha256::digest(
                "koinos-test-vector",
            ))
            .unwrap(),
        ),
        p2p_seed: Some("p2p-seed-for-tests".into()),
        admin_rotation_requested: false,
        p2p_load_balancer: None,
        broker_users: broker_users_for_tests(),
        // As on a cluster's first pass: every user is new, every Secret is built.
        new_users: broker_users_for_tests().into_keys().collect(),
    }
}

/// A fixed user per Koinos service, per extra service name the tests use, and the reader.
fn broker_users_for_tests()
-> std::collections::BTreeMap<String, crate::controller::build::broker_users::UserCredentials> {
    use crate::model::ServiceKind;
    let keys = ServiceKind::ALL
        .iter()
        .map(|kind| kind.profile().component)
        .chain(["indexer", "notifier", crate::model::broker_users::READER]);
    keys.map(|key| {
        let credentials = crate::controller::build::broker_users::UserCredentials {
            username: format!("{key}-test0001"),
            password: format!("{key}-password-for-tests"),
        };
        (key.to_string(), credentials)
    })
    .collect()
}

/// A devnet running every Koinos service, plus an extra service on a queue of its own.
pub const EVERY_SERVICE: &str = r#"
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: demo}
spec:
  network: {devnet: {}}
  services:
    p2p: {enabled: true}
    grpc: {enabled: true}
    transactionStore: {enabled: true}
    contractMetaStore: {enabled: true}
    accountHistory: {enabled: true}
  extraServices:
    - {name: indexer, image: example.com/indexer:1, queue: acme.indexer}
"#;

/// A cluster on an external broker, with the producer enabled by a user key.
pub const EXTERNAL_BROKER: &str = r#"
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: ext, namespace: prod}
spec:
  network: {genesis: {configMapRef: {name: harbinger-genesis}}}
  amqp: {external: {urlSecretRef: {name: broker, key: url}}}
  services:
    blockProducer: {enabled: true, privateKeySecretRef: {name: producer, key: wif}}
    p2p: {enabled: false}
    mempool: {autoscaling: {enabled: true, maxReplicas: 4}}
"#;
