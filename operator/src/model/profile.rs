//! The service profile table: everything that varies between Koinos services is data here, so
//! one generic builder serves them all (docs/design.md "Service classes").

use std::fmt;

use koinos_mq::topology::queue;

/// Workload class of a service (docs/design.md "Service classes"). The broker is built separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceClass {
    /// One replica, never two at once: chain, block_producer, p2p.
    Singleton,
    /// StatefulSet with a volume per replica, scaled by queue depth.
    ReplicatedStore,
    /// Deployment without storage, scaled by queue depth: mempool.
    InMemoryConsumer,
    /// Deployment plus Service, scaled on CPU: jsonrpc, grpc.
    Gateway,
}

impl ServiceClass {
    pub fn is_stateful_set(self) -> bool {
        matches!(self, Self::Singleton | Self::ReplicatedStore)
    }
    pub fn can_scale(self) -> bool {
        !matches!(self, Self::Singleton)
    }
}

/// The Koinos services, in apply order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKind {
    Chain,
    BlockStore,
    Mempool,
    TransactionStore,
    ContractMetaStore,
    AccountHistory,
    BlockProducer,
    Jsonrpc,
    Grpc,
    P2p,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 10] = [
        Self::Chain,
        Self::BlockStore,
        Self::Mempool,
        Self::TransactionStore,
        Self::ContractMetaStore,
        Self::AccountHistory,
        Self::BlockProducer,
        Self::Jsonrpc,
        Self::Grpc,
        Self::P2p,
    ];

    pub fn profile(self) -> &'static ServiceProfile {
        PROFILES
            .iter()
            .find(|p| p.kind == self)
            .expect("every kind has a profile")
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.profile().spec_name)
    }
}

/// A named container port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub name: &'static str,
    pub port: i32,
}

/// What the autoscaler watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleSignal {
    /// Depth of the service's RPC queue, served as an External metric.
    QueueDepth,
    /// Average CPU utilization.
    Cpu,
}

/// What a service takes besides its config, the broker URL and its data volume: the one
/// per-service input the pod template adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceInput {
    /// The genesis data (the devnet's generated ConfigMap or the user's), mounted read-only.
    Genesis,
    /// The block producer's private key Secret, mounted read-only.
    ProducerKey,
    /// The node identity seed from the generated p2p identity Secret, passed as `--seed`.
    NodeSeed,
}

/// Data-only description of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceProfile {
    pub kind: ServiceKind,
    pub class: ServiceClass,
    /// Field name under `spec.services` and key in `status.services`.
    pub spec_name: &'static str,
    /// Official config section and data directory under the basedir (underscores).
    pub section: &'static str,
    /// `<cluster>-<component>` child name suffix and the `component` label.
    pub component: &'static str,
    /// Binary in the services image.
    pub binary: &'static str,
    /// Ports besides metrics (9100), which every service has.
    pub ports: &'static [PortSpec],
    /// The competing-consumer RPC queue.
    pub rpc_queue: Option<&'static str>,
    /// Default volume size when the service keeps data (None: no storage).
    pub default_storage: Option<&'static str>,
    pub scale_signal: Option<ScaleSignal>,
    /// Enabled when the spec does not say (the producer follows `network.devnet`).
    pub enabled_by_default: bool,
    /// Container requests (cpu, memory) when the spec gives no resources.
    pub default_requests: (&'static str, &'static str),
    pub input: Option<ServiceInput>,
}

pub const METRICS_PORT: PortSpec = PortSpec {
    name: "metrics",
    port: 9100,
};
pub const JSONRPC_PORT: PortSpec = PortSpec {
    name: "jsonrpc",
    port: 8080,
};
pub const GRPC_PORT: PortSpec = PortSpec {
    name: "grpc",
    port: 50051,
};
pub const P2P_PORT: PortSpec = PortSpec {
    name: "p2p",
    port: 8888,
};
pub const AMQP_PORT: PortSpec = PortSpec {
    name: "amqp",
    port: 5672,
};

const fn store(
    kind: ServiceKind,
    spec_name: &'static str,
    section: &'static str,
    component: &'static str,
    binary: &'static str,
    rpc_queue: &'static str,
    default_storage: &'static str,
) -> ServiceProfile {
    ServiceProfile {
        kind,
        class: ServiceClass::ReplicatedStore,
        spec_name,
        section,
        component,
        binary,
        ports: &[],
        rpc_queue: Some(rpc_queue),
        default_storage: Some(default_storage),
        scale_signal: Some(ScaleSignal::QueueDepth),
        enabled_by_default: true,
        default_requests: ("100m", "256Mi"),
        input: None,
    }
}

pub static PROFILES: [ServiceProfile; 10] = [
    ServiceProfile {
        kind: ServiceKind::Chain,
        class: ServiceClass::Singleton,
        spec_name: "chain",
        section: "chain",
        component: "chain",
        binary: "koinos-chain",
        ports: &[],
        rpc_queue: Some(queue::CHAIN),
        default_storage: Some("50Gi"),
        scale_signal: None,
        enabled_by_default: true,
        default_requests: ("250m", "512Mi"),
        input: Some(ServiceInput::Genesis),
    },
    store(
        ServiceKind::BlockStore,
        "blockStore",
        "block_store",
        "block-store",
        "koinos-block-store",
        queue::BLOCK_STORE,
        "100Gi",
    ),
    ServiceProfile {
        kind: ServiceKind::Mempool,
        class: ServiceClass::InMemoryConsumer,
        spec_name: "mempool",
        section: "mempool",
        component: "mempool",
        binary: "koinos-mempool",
        ports: &[],
        rpc_queue: Some(queue::MEMPOOL),
        default_storage: None,
        scale_signal: Some(ScaleSignal::QueueDepth),
        enabled_by_default: true,
        default_requests: ("100m", "256Mi"),
        input: None,
    },
    store(
        ServiceKind::TransactionStore,
        "transactionStore",
        "transaction_store",
        "transaction-store",
        "koinos-transaction-store",
        queue::TRANSACTION_STORE,
        "50Gi",
    ),
    store(
        ServiceKind::ContractMetaStore,
        "contractMetaStore",
        "contract_meta_store",
        "contract-meta-store",
        "koinos-contract-meta-store",
        queue::CONTRACT_META_STORE,
        "10Gi",
    ),
    store(
        ServiceKind::AccountHistory,
        "accountHistory",
        "account_history",
        "account-history",
        "koinos-account-history",
        queue::ACCOUNT_HISTORY,
        "50Gi",
    ),
    ServiceProfile {
        kind: ServiceKind::BlockProducer,
        class: ServiceClass::Singleton,
        spec_name: "blockProducer",
        section: "block_producer",
        component: "block-producer",
        binary: "koinos-block-producer",
        ports: &[],
        rpc_queue: None,
        default_storage: None,
        scale_signal: None,
        enabled_by_default: false,
        default_requests: ("100m", "128Mi"),
        input: Some(ServiceInput::ProducerKey),
    },
    ServiceProfile {
        kind: ServiceKind::Jsonrpc,
        class: ServiceClass::Gateway,
        spec_name: "jsonrpc",
        section: "jsonrpc",
        component: "jsonrpc",
        binary: "koinos-jsonrpc",
        ports: &[JSONRPC_PORT],
        rpc_queue: None,
        default_storage: None,
        scale_signal: Some(ScaleSignal::Cpu),
        enabled_by_default: true,
        default_requests: ("100m", "128Mi"),
        input: None,
    },
    ServiceProfile {
        kind: ServiceKind::Grpc,
        class: ServiceClass::Gateway,
        spec_name: "grpc",
        section: "grpc",
        component: "grpc",
        binary: "koinos-grpc",
        ports: &[GRPC_PORT],
        rpc_queue: None,
        default_storage: None,
        scale_signal: Some(ScaleSignal::Cpu),
        enabled_by_default: true,
        default_requests: ("100m", "128Mi"),
        input: None,
    },
    ServiceProfile {
        kind: ServiceKind::P2p,
        class: ServiceClass::Singleton,
        spec_name: "p2p",
        section: "p2p",
        component: "p2p",
        binary: "koinos-p2p",
        ports: &[P2P_PORT],
        rpc_queue: Some(queue::P2P),
        default_storage: None,
        scale_signal: None,
        enabled_by_default: true,
        default_requests: ("100m", "128Mi"),
        input: Some(ServiceInput::NodeSeed),
    },
];

/// Mount point of the basedir in every service container (`--basedir`).
pub const BASEDIR: &str = "/koinos";

impl ServiceProfile {
    /// The official flags every service takes; Kubernetes expands `$(VAR)` from the env.
    pub fn args(&self) -> Vec<String> {
        vec![
            format!("--basedir={BASEDIR}"),
            "--amqp=$(KOINOS_AMQP_URL)".to_string(),
            "--instance-id=$(POD_NAME)".to_string(),
        ]
    }

    /// Where the service's data lives (the volume mount), when it keeps any.
    pub fn data_dir(&self) -> Option<String> {
        self.default_storage
            .map(|_| format!("{BASEDIR}/{}", self.section))
    }

    /// The port a Service publishes as the service's main port.
    pub fn main_port(&self) -> Option<PortSpec> {
        self.ports.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_profile() {
        for kind in ServiceKind::ALL {
            assert_eq!(
                PROFILES.iter().filter(|p| p.kind == kind).count(),
                1,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn class_table_matches_design() {
        use ServiceClass::*;
        use ServiceKind::*;
        let expected = [
            (Chain, Singleton),
            (BlockProducer, Singleton),
            (P2p, Singleton),
            (BlockStore, ReplicatedStore),
            (TransactionStore, ReplicatedStore),
            (ContractMetaStore, ReplicatedStore),
            (AccountHistory, ReplicatedStore),
            (Mempool, InMemoryConsumer),
            (Jsonrpc, Gateway),
            (Grpc, Gateway),
        ];
        for (kind, class) in expected {
            assert_eq!(kind.profile().class, class, "{kind:?}");
        }
    }

    #[test]
    fn binaries_are_hyphenated_section_names() {
        for p in &PROFILES {
            assert_eq!(p.binary, format!("koinos-{}", p.section.replace('_', "-")));
            assert_eq!(p.component, p.section.replace('_', "-"));
        }
    }

    #[test]
    fn stores_and_scalable_services_have_rpc_queues_named_by_section() {
        for p in PROFILES
            .iter()
            .filter(|p| p.scale_signal == Some(ScaleSignal::QueueDepth))
        {
            assert_eq!(
                p.rpc_queue,
                Some(format!("koinos.rpc.{}", p.section).as_str())
            );
        }
        for p in PROFILES
            .iter()
            .filter(|p| p.class == ServiceClass::ReplicatedStore)
        {
            assert!(p.default_storage.is_some(), "{:?} needs a volume", p.kind);
        }
    }

    #[test]
    fn inputs_match_design() {
        use ServiceInput::*;
        for p in &PROFILES {
            let expected = match p.kind {
                ServiceKind::Chain => Some(Genesis),
                ServiceKind::BlockProducer => Some(ProducerKey),
                ServiceKind::P2p => Some(NodeSeed),
                _ => None,
            };
            assert_eq!(p.input, expected, "{:?}", p.kind);
        }
    }

    #[test]
    fn singletons_never_autoscale() {
        for p in PROFILES
            .iter()
            .filter(|p| p.class == ServiceClass::Singleton)
        {
            assert_eq!(p.scale_signal, None, "{:?}", p.kind);
        }
    }
}
