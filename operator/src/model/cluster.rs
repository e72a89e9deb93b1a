//! The validated, defaults-resolved model of a KoinosCluster that builders consume.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, TopologySpreadConstraint};
pub use koinos_protocol::crypto::Address;
pub use koinos_protocol::devnet::DevnetToken;
pub use koinos_protocol::devnet::pob::Consensus as DevnetConsensus;

use super::network::Preset;
use super::profile::{ServiceClass, ServiceInput, ServiceKind, ServiceProfile};
use crate::crd::autoscaling::AutoscalingProvider;
use crate::crd::exposure::{IngressSpec, RouteSpec};
use crate::crd::network::SecretKeyRef;
use crate::crd::service::ServiceExposure;
use crate::crd::storage::RetentionPolicy;
use crate::crd::v1alpha1::{ClusterOperation, ImageSpec};

#[derive(Clone, Debug, PartialEq)]
pub enum Network {
    /// Genesis from a user's ConfigMap.
    Genesis { config_map: String, key: String },
    /// Generated genesis (with `token` as KOIN, blocks signed by `consensus`) and producer key.
    Devnet {
        token: DevnetToken,
        consensus: DevnetConsensus,
    },
    /// A network the operator knows; its genesis ships with the operator unless the user
    /// names a ConfigMap (`genesis`).
    Preset {
        preset: Preset,
        genesis: Option<GenesisRef>,
    },
}

/// A ConfigMap key holding a genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisRef {
    pub config_map: String,
    pub key: String,
}

impl Network {
    /// A devnet, whatever its token.
    pub fn is_devnet(&self) -> bool {
        matches!(self, Self::Devnet { .. })
    }

    /// A devnet whose blocks are signed by proof of burn.
    pub fn is_pob_devnet(&self) -> bool {
        matches!(
            self,
            Self::Devnet {
                consensus: DevnetConsensus::Pob,
                ..
            }
        )
    }

    /// The preset network, if any.
    pub fn preset(&self) -> Option<Preset> {
        match self {
            Self::Preset { preset, .. } => Some(*preset),
            _ => None,
        }
    }
    /// The operator renders the genesis ConfigMap from data it ships (a preset without a
    /// user ConfigMap).
    pub fn ships_genesis(&self) -> Option<Preset> {
        match self {
            Self::Preset {
                preset,
                genesis: None,
            } => Some(*preset),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    pub size: String,
    pub storage_class_name: Option<String>,
    pub retention: RetentionPolicy,
    /// What new volumes start from (`storage.dataSource`).
    pub data_source: Option<DataSource>,
}

/// Where a new volume's data comes from, with the spec field naming it (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSource {
    pub kind: DataSourceKind,
    pub name: String,
    /// e.g. `spec.services.blockStore.storage.dataSource.volumeSnapshot`.
    pub field: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSourceKind {
    VolumeSnapshot,
    PersistentVolumeClaim,
}

impl DataSourceKind {
    /// `(apiGroup, kind)` as a PVC's `dataSourceRef` names it.
    pub fn api_group_kind(self) -> (Option<&'static str>, &'static str) {
        match self {
            Self::VolumeSnapshot => (Some(VOLUME_SNAPSHOT_GROUP), "VolumeSnapshot"),
            Self::PersistentVolumeClaim => (None, "PersistentVolumeClaim"),
        }
    }
}

/// The CSI snapshot API group.
pub const VOLUME_SNAPSHOT_GROUP: &str = "snapshot.storage.k8s.io";

/// The managed RabbitMQ broker.
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedBroker {
    pub replicas: i32,
    pub image: String,
    pub storage: Storage,
    pub resources: ResourceRequirements,
    pub pod: ResolvedPod,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Amqp {
    Managed(Box<ManagedBroker>),
    /// `ca_secret`: the PEM CA of an `amqps://` broker (`spec.amqp.external.tls`).
    External {
        url_secret: SecretKeyRef,
        ca_secret: Option<SecretKeyRef>,
    },
}

/// Pod overrides after merging cluster-wide and per-service ones, with typed affinity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedPod {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    pub affinity: Option<Affinity>,
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    pub priority_class_name: Option<String>,
    pub service_account_name: Option<String>,
    pub env: Vec<k8s_openapi::api::core::v1::EnvVar>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaling {
    pub provider: AutoscalingProvider,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub target_queue_depth: i32,
    pub target_cpu_utilization_percentage: i32,
    pub scale_down_stabilization_seconds: i32,
}

/// One enabled service with every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedService {
    pub profile: &'static ServiceProfile,
    /// Replicas when autoscaling is off.
    pub replicas: i32,
    pub image: String,
    /// `image` is the koinos-services image (`spec.image`), which holds every binary; any
    /// other image (e.g. an official one) runs its own entrypoint.
    pub services_image: bool,
    pub storage: Option<Storage>,
    pub autoscaling: Option<Autoscaling>,
    pub exposure: ServiceExposure,
    /// jsonrpc, grpc: the Ingress to write.
    pub ingress: Option<IngressSpec>,
    /// jsonrpc, grpc: the Gateway API route to write.
    pub route: Option<RouteSpec>,
    /// p2p: the externally dialable multiaddr (without `/p2p/<id>`) from `announce`.
    pub announce: Option<String>,
    pub resources: ResourceRequirements,
    pub pod: ResolvedPod,
    pub health_probes: bool,
    /// Block producer key (devnet: the generated Secret).
    pub private_key: Option<SecretKeyRef>,
    pub seeds: Vec<String>,
}

impl ValidatedService {
    pub fn kind(&self) -> ServiceKind {
        self.profile.kind
    }
    /// One replica, never two at once.
    pub fn is_singleton(&self) -> bool {
        self.profile.class == ServiceClass::Singleton
    }
    /// More than one pod may run (PodDisruptionBudget worth having).
    pub fn is_multi_replica(&self) -> bool {
        multi_replica(self.replicas, self.autoscaling.as_ref())
    }
}

/// More than one pod may run: `replicas`, or the autoscaler's ceiling.
fn multi_replica(replicas: i32, autoscaling: Option<&Autoscaling>) -> bool {
    autoscaling.map_or(replicas, |a| a.max_replicas) > 1
}

/// One extra service (`spec.extraServices`) with every default resolved: the user's image
/// consuming `queue` on the cluster's broker, a Deployment like mempool's.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedExtraService {
    /// DNS label, not one of the operator's children: the component, the child name suffix
    /// and the key in `status.services`.
    pub name: String,
    pub image: String,
    /// The container's command and args (empty: the image's).
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// Replicas when autoscaling is off.
    pub replicas: i32,
    /// The service's own env vars (after the cluster-wide ones in `pod.env`).
    pub env: Vec<k8s_openapi::api::core::v1::EnvVar>,
    pub resources: ResourceRequirements,
    /// The AMQP queue it consumes (`koinos.rpc.<name>` unless given).
    pub queue: String,
    /// On the queue's depth (`target_queue_depth`).
    pub autoscaling: Option<Autoscaling>,
    /// `spec.podOverrides`, the cluster-wide ones.
    pub pod: ResolvedPod,
}

impl ValidatedExtraService {
    /// More than one pod may run (PodDisruptionBudget worth having).
    pub fn is_multi_replica(&self) -> bool {
        multi_replica(self.replicas, self.autoscaling.as_ref())
    }
}

/// `spec.monitoring.podMonitor` when enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodMonitorSettings {
    /// Extra labels on the PodMonitor.
    pub labels: BTreeMap<String, String>,
    /// Scrape interval (a Prometheus duration).
    pub interval: String,
}

/// A KoinosCluster whose spec passed validation, with defaults resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedCluster {
    pub name: String,
    pub namespace: String,
    pub uid: Option<String>,
    pub generation: Option<i64>,
    pub image: ImageSpec,
    pub operation: ClusterOperation,
    pub network: Network,
    pub amqp: Amqp,
    /// `spec.config` as given (validated section and key names).
    pub config: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Enabled services in profile order.
    pub services: Vec<ValidatedService>,
    /// `spec.extraServices`, in spec order.
    pub extra_services: Vec<ValidatedExtraService>,
    /// The PodMonitor to write (`None`: monitoring off).
    pub pod_monitor: Option<PodMonitorSettings>,
    /// A devnet's producer (genesis key) address, once its key is generated: not in the spec,
    /// filled by the builders from the generated key ([`Self::with_devnet_producer`]) since a
    /// pob devnet's contract ids derive from it.
    pub devnet_producer: Option<Address>,
}

impl ValidatedCluster {
    /// `self` with [`Self::devnet_producer`] set to `producer`'s address on a devnet.
    pub fn with_devnet_producer(
        &self,
        producer: Option<&koinos_protocol::crypto::PrivateKey>,
    ) -> std::borrow::Cow<'_, Self> {
        match producer.filter(|_| self.network.is_devnet()) {
            Some(key) => std::borrow::Cow::Owned(Self {
                devnet_producer: Some(key.address()),
                ..self.clone()
            }),
            None => std::borrow::Cow::Borrowed(self),
        }
    }

    /// A proof-of-burn devnet's contracts, once its producer is known.
    pub fn devnet_pob_contracts(&self) -> Option<koinos_protocol::devnet::pob::PobContracts> {
        match (&self.network, &self.devnet_producer) {
            (
                Network::Devnet {
                    consensus: DevnetConsensus::Pob,
                    ..
                },
                Some(producer),
            ) => Some(koinos_protocol::devnet::pob::PobContracts::of(
                producer.as_bytes(),
            )),
            _ => None,
        }
    }

    pub fn service(&self, kind: ServiceKind) -> Option<&ValidatedService> {
        self.services.iter().find(|s| s.kind() == kind)
    }
    /// `clusterOperation.stopped`: every workload, the broker's included, at zero replicas
    /// and no autoscaler (it would fight that); the broker is not read.
    pub fn is_stopped(&self) -> bool {
        self.operation.stopped
    }
    /// The autoscaling that runs for `svc`: none while the cluster is stopped.
    pub fn running_autoscaling<'a>(&self, svc: &'a ValidatedService) -> Option<&'a Autoscaling> {
        self.running(svc.autoscaling.as_ref())
    }
    /// `autoscaling` unless the cluster is stopped (a built-in or an extra service's).
    pub fn running<'a>(&self, autoscaling: Option<&'a Autoscaling>) -> Option<&'a Autoscaling> {
        autoscaling.filter(|_| !self.is_stopped())
    }
    /// Some enabled service takes `input` (so its generated material is needed).
    pub fn takes(&self, input: ServiceInput) -> bool {
        self.services.iter().any(|s| s.profile.input == Some(input))
    }
}
