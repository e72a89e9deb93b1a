//! Names of the children and of the generated Secrets and ConfigMaps, and the keys inside
//! them: shared by the builders, the apply step (generated material) and the broker reader.

use super::cluster::{Amqp, GenesisRef, Network, ValidatedCluster};
use crate::crd::network::SecretKeyRef;

/// `<cluster>-<component>`.
pub fn child_name(vc: &ValidatedCluster, component: &str) -> String {
    format!("{}-{component}", vc.name)
}

/// The services' `config.yml` ConfigMap.
pub fn config_map_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "config")
}

/// The generated Secret of a managed broker's administrator (and its Erlang cookie): only the
/// broker and the operator's user provisioning read it, never a workload.
pub fn amqp_secret_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "amqp")
}
/// Keys of the `<cluster>-amqp` Secret and of each user's Secret (`username`, `password`,
/// `url`; see [`super::broker_users`]).
pub const AMQP_URL_KEY: &str = "url";
pub const AMQP_USERNAME_KEY: &str = "username";
pub const AMQP_PASSWORD_KEY: &str = "password";
pub const ERLANG_COOKIE_KEY: &str = "erlang-cookie";

/// The Secret and key holding the AMQP URL the operator reads the broker with (and KEDA, when
/// it scales): the managed broker's reader user `<cluster>-amqp-reader`, or the user's Secret
/// of an external broker.
pub fn amqp_url_secret(vc: &ValidatedCluster) -> SecretKeyRef {
    amqp_url_secret_of(vc, super::broker_users::READER)
}

/// The Secret and key holding the AMQP URL of the workload `user` (a service's component, an
/// extra service's name): its own user's `<cluster>-<user>-amqp` on a managed broker, the one
/// URL of an external broker (whose users are its owner's business).
pub fn amqp_url_secret_of(vc: &ValidatedCluster, user: &str) -> SecretKeyRef {
    match &vc.amqp {
        Amqp::Managed(_) => SecretKeyRef {
            name: super::broker_users::user_secret_name(vc, user),
            key: AMQP_URL_KEY.into(),
        },
        Amqp::External { url_secret, .. } => url_secret.clone(),
    }
}

/// Name of the generated devnet producer key Secret.
pub fn producer_key_secret_name(cluster: &str) -> String {
    format!("{cluster}-producer-key")
}
/// Key of the WIF in the generated producer key Secret.
pub const PRODUCER_KEY_SECRET_KEY: &str = "private.key";

/// The genesis ConfigMap the operator makes: generated (devnet) or shipped (a preset).
pub fn genesis_config_map_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "genesis")
}
/// Key of `genesis_data.json` in the operator's genesis ConfigMap.
pub const GENESIS_KEY: &str = "genesis_data.json";

/// The ConfigMap and key the chain reads its genesis from: the user's, or the operator's.
pub fn genesis_source(vc: &ValidatedCluster) -> GenesisRef {
    match &vc.network {
        Network::Genesis { config_map, key }
        | Network::Preset {
            genesis: Some(GenesisRef { config_map, key }),
            ..
        } => GenesisRef {
            config_map: config_map.clone(),
            key: key.clone(),
        },
        Network::Devnet { .. } | Network::Preset { genesis: None, .. } => GenesisRef {
            config_map: genesis_config_map_name(vc),
            key: GENESIS_KEY.into(),
        },
    }
}

/// The generated p2p identity Secret.
pub fn p2p_identity_secret_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "p2p-identity")
}
/// Key of the seed in the p2p identity Secret.
pub const P2P_SEED_KEY: &str = "seed";

/// The kind of a user's object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    ConfigMap,
    Secret,
}

/// An object of the user's (not made by the operator) that the cluster's pods need: without
/// it they wait forever (a volume that cannot mount, an env var that cannot resolve).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInput {
    pub kind: InputKind,
    pub name: String,
    pub key: String,
    /// The spec field naming it.
    pub field: String,
    /// The condition reason when it is missing: `MissingGenesis`, `MissingProducerKey`,
    /// `MissingBrokerSecret`.
    pub reason: &'static str,
}

/// The Secret and key of an external `amqps://` broker's CA (`spec.amqp.external.tls`), which
/// every workload mounts and the operator's own broker session trusts.
pub fn amqp_ca_secret(vc: &ValidatedCluster) -> Option<&SecretKeyRef> {
    match &vc.amqp {
        Amqp::External { ca_secret, .. } => ca_secret.as_ref(),
        Amqp::Managed(_) => None,
    }
}

/// The user's objects the enabled services need, in the order their absence is reported.
pub fn user_inputs(vc: &ValidatedCluster) -> Vec<UserInput> {
    use super::profile::{ServiceInput, ServiceKind};
    let mut inputs = Vec::new();
    if vc.takes(ServiceInput::Genesis) {
        let field = match &vc.network {
            Network::Genesis { .. } => Some("spec.network.genesis.configMapRef".to_string()),
            Network::Preset {
                preset,
                genesis: Some(_),
            } => Some(format!("spec.network.{preset}.genesisConfigMapRef")),
            _ => None,
        };
        if let Some(field) = field {
            let GenesisRef { config_map, key } = genesis_source(vc);
            inputs.push(UserInput {
                kind: InputKind::ConfigMap,
                name: config_map,
                key,
                field,
                reason: "MissingGenesis",
            });
        }
    }
    if let Some(key) = vc
        .service(ServiceKind::BlockProducer)
        .and_then(|s| s.private_key.as_ref())
    {
        let generated = vc.network.is_devnet() && key.name == producer_key_secret_name(&vc.name);
        if !generated {
            inputs.push(UserInput {
                kind: InputKind::Secret,
                name: key.name.clone(),
                key: key.key.clone(),
                field: "spec.services.blockProducer.privateKeySecretRef".into(),
                reason: "MissingProducerKey",
            });
        }
    }
    if let Amqp::External { url_secret, .. } = &vc.amqp {
        inputs.push(UserInput {
            kind: InputKind::Secret,
            name: url_secret.name.clone(),
            key: url_secret.key.clone(),
            field: "spec.amqp.external.urlSecretRef".into(),
            reason: "MissingBrokerSecret",
        });
    }
    if let Some(ca) = amqp_ca_secret(vc) {
        inputs.push(UserInput {
            kind: InputKind::Secret,
            name: ca.name.clone(),
            key: ca.key.clone(),
            field: "spec.amqp.external.tls.caSecretRef".into(),
            reason: "MissingBrokerCaSecret",
        });
    }
    inputs
}

/// Pod labels the operator sets and selects on (`podOverrides.labels` cannot override them).
pub const SELECTOR_LABEL_KEYS: [&str; 3] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
];
/// Pod-template annotation: hash of the rendered config, so a config change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "koinos.io/config-hash";
/// Pod-template annotation naming the managed broker user the pods connect as (a new user
/// rolls them).
pub const AMQP_USER_ANNOTATION: &str = "koinos.io/amqp-user";
/// Environment variables the operator sets on the services', the extra services' and
/// RabbitMQ's containers (`podOverrides.env` cannot set them).
pub const OPERATOR_ENV: [&str; 9] = [
    "KOINOS_AMQP_URL",
    "KOINOS_P2P_SEED",
    RPC_QUEUE_ENV,
    "POD_NAME",
    "RABBITMQ_USE_LONGNAME",
    "RABBITMQ_NODENAME",
    "RABBITMQ_CONFIG_FILES",
    "RABBITMQ_LOGS",
    "RABBITMQ_ENABLED_PLUGINS_FILE",
];

/// Names an extra service cannot take: `<cluster>-<name>` would be one of the operator's own
/// children (a Koinos service's component, the broker's, a generated object's). The CRD's CEL
/// rule on `spec.extraServices[].name` lists the same names (checked by `model::tests`).
pub const RESERVED_EXTRA_NAMES: [&str; 20] = [
    "chain",
    "block-store",
    "mempool",
    "transaction-store",
    "contract-meta-store",
    "account-history",
    "block-producer",
    "jsonrpc",
    "grpc",
    "p2p",
    "rabbitmq",
    "rabbitmq-headless",
    "rabbitmq-config",
    "config",
    "amqp",
    "genesis",
    "producer-key",
    "p2p-identity",
    "keda-amqp",
    "metrics",
];

/// Env var with an extra service's queue name (beside `KOINOS_AMQP_URL` and `POD_NAME`).
pub const RPC_QUEUE_ENV: &str = "KOINOS_RPC_QUEUE";
/// Environment variables the operator sets on an extra service's container (its `env`
/// cannot set them; the CRD's CEL rule lists the same names).
pub const EXTRA_SERVICE_ENV: [&str; 3] = ["KOINOS_AMQP_URL", RPC_QUEUE_ENV, "POD_NAME"];

/// The queue an extra service consumes when its spec names none.
pub fn default_extra_queue(name: &str) -> String {
    koinos_mq::topology::rpc_queue(name)
}
