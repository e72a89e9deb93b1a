//! `spec.services`: one entry per Koinos microservice.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::autoscaling::AutoscalingSpec;
use super::exposure::{ExternalTrafficPolicy, IngressSpec, RouteSpec};
use super::network::SecretKeyRef;
use super::pod::PodOverrides;
use super::storage::StorageSpec;

/// CEL for "a singleton service has at most one replica and no autoscaling".
macro_rules! singleton_rules {
    ($field:literal) => {
        concat!(
            "!has(self.",
            $field,
            ") || ((!has(self.",
            $field,
            ".replicas) || self.",
            $field,
            ".replicas <= 1) && (!has(self.",
            $field,
            ".autoscaling) || !self.",
            $field,
            ".autoscaling.enabled))"
        )
    };
}

/// CEL for a gateway (scaled on CPU): autoscaling through KEDA's queue trigger makes no sense.
macro_rules! cpu_scaled_rules {
    ($field:literal) => {
        concat!(
            "!has(self.",
            $field,
            ") || !has(self.",
            $field,
            ".autoscaling) || !has(self.",
            $field,
            ".autoscaling.provider) || self.",
            $field,
            ".autoscaling.provider != 'keda' || (has(self.",
            $field,
            ".autoscaling.enabled) && !self.",
            $field,
            ".autoscaling.enabled)"
        )
    };
}

/// CEL for "`self.<svc>.<field>` is not set".
macro_rules! absent {
    ($svc:literal, $field:literal) => {
        concat!(
            "!has(self.",
            $svc,
            ") || !has(self.",
            $svc,
            ".",
            $field,
            ")"
        )
    };
    ($svc:literal, $outer:literal, $field:literal) => {
        concat!(
            "!has(self.",
            $svc,
            ") || !has(self.",
            $svc,
            ".",
            $outer,
            ") || !has(self.",
            $svc,
            ".",
            $outer,
            ".",
            $field,
            ")"
        )
    };
}

// Boxed: a deserializer's frame holds every field, and ten inline `ServiceSpec`s overflowed
// a 2 MiB thread stack in debug builds.
/// The ten Koinos services. Omitted services take their defaults: every service is enabled,
/// except that on a devnet the block producer is on and p2p is off, and elsewhere the reverse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(singleton_rules!("chain")).message("spec.services.chain: chain is a singleton: replicas must be 0 or 1 and autoscaling cannot be enabled"),
    validation = Rule::new(singleton_rules!("blockProducer")).message("spec.services.blockProducer: blockProducer is a singleton: replicas must be 0 or 1 and autoscaling cannot be enabled"),
    validation = Rule::new(singleton_rules!("p2p")).message("spec.services.p2p: p2p is a singleton: replicas must be 0 or 1 and autoscaling cannot be enabled"),
    validation = Rule::new("!has(self.mempool) || !has(self.mempool.storage)").message("spec.services.mempool.storage: mempool keeps no data on disk"),
    validation = Rule::new("!has(self.jsonrpc) || !has(self.jsonrpc.storage)").message("spec.services.jsonrpc.storage: jsonrpc keeps no data on disk"),
    validation = Rule::new("!has(self.grpc) || !has(self.grpc.storage)").message("spec.services.grpc.storage: grpc keeps no data on disk"),
    validation = Rule::new(cpu_scaled_rules!("jsonrpc")).message("spec.services.jsonrpc.autoscaling.provider: keda scales on RPC queue depth; jsonrpc scales on CPU: use provider hpa"),
    validation = Rule::new(cpu_scaled_rules!("grpc")).message("spec.services.grpc.autoscaling.provider: keda scales on RPC queue depth; grpc scales on CPU: use provider hpa"),
    validation = Rule::new(absent!("blockProducer", "storage")).message("spec.services.blockProducer.storage: blockProducer keeps no data on disk"),
    validation = Rule::new(absent!("p2p", "storage")).message("spec.services.p2p.storage: p2p keeps no data on disk"),
    validation = Rule::new(absent!("chain", "service")).message("spec.services.chain.service: chain serves no client port (its Service is headless, for metrics)"),
    validation = Rule::new(absent!("blockStore", "service")).message("spec.services.blockStore.service: blockStore serves no client port (its Service is headless, for metrics)"),
    validation = Rule::new(absent!("mempool", "service")).message("spec.services.mempool.service: mempool serves no client port (its Service is headless, for metrics)"),
    validation = Rule::new(absent!("transactionStore", "service")).message("spec.services.transactionStore.service: transactionStore serves no client port (its Service is headless, for metrics)"),
    validation = Rule::new(absent!("contractMetaStore", "service")).message("spec.services.contractMetaStore.service: contractMetaStore serves no client port (its Service is headless, for metrics)"),
    validation = Rule::new(absent!("accountHistory", "service")).message("spec.services.accountHistory.service: accountHistory serves no client port (its Service is headless, for metrics)"),
    validation = Rule::new(absent!("blockProducer", "service")).message("spec.services.blockProducer.service: blockProducer serves no client port (its Service is headless, for metrics)"),
    validation = Rule::new(absent!("blockStore", "autoscaling", "targetCpuUtilizationPercentage")).message("spec.services.blockStore.autoscaling.targetCpuUtilizationPercentage: blockStore scales on RPC queue depth: use targetQueueDepth"),
    validation = Rule::new(absent!("mempool", "autoscaling", "targetCpuUtilizationPercentage")).message("spec.services.mempool.autoscaling.targetCpuUtilizationPercentage: mempool scales on RPC queue depth: use targetQueueDepth"),
    validation = Rule::new(absent!("transactionStore", "autoscaling", "targetCpuUtilizationPercentage")).message("spec.services.transactionStore.autoscaling.targetCpuUtilizationPercentage: transactionStore scales on RPC queue depth: use targetQueueDepth"),
    validation = Rule::new(absent!("contractMetaStore", "autoscaling", "targetCpuUtilizationPercentage")).message("spec.services.contractMetaStore.autoscaling.targetCpuUtilizationPercentage: contractMetaStore scales on RPC queue depth: use targetQueueDepth"),
    validation = Rule::new(absent!("accountHistory", "autoscaling", "targetCpuUtilizationPercentage")).message("spec.services.accountHistory.autoscaling.targetCpuUtilizationPercentage: accountHistory scales on RPC queue depth: use targetQueueDepth"),
    validation = Rule::new(absent!("jsonrpc", "autoscaling", "targetQueueDepth")).message("spec.services.jsonrpc.autoscaling.targetQueueDepth: jsonrpc scales on CPU: use targetCpuUtilizationPercentage"),
    validation = Rule::new(absent!("grpc", "autoscaling", "targetQueueDepth")).message("spec.services.grpc.autoscaling.targetQueueDepth: grpc scales on CPU: use targetCpuUtilizationPercentage"),
    validation = Rule::new(absent!("chain", "privateKeySecretRef")).message("spec.services.chain.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("blockStore", "privateKeySecretRef")).message("spec.services.blockStore.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("mempool", "privateKeySecretRef")).message("spec.services.mempool.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("transactionStore", "privateKeySecretRef")).message("spec.services.transactionStore.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("contractMetaStore", "privateKeySecretRef")).message("spec.services.contractMetaStore.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("accountHistory", "privateKeySecretRef")).message("spec.services.accountHistory.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("jsonrpc", "privateKeySecretRef")).message("spec.services.jsonrpc.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("grpc", "privateKeySecretRef")).message("spec.services.grpc.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("p2p", "privateKeySecretRef")).message("spec.services.p2p.privateKeySecretRef: only blockProducer takes a private key"),
    validation = Rule::new(absent!("chain", "seeds")).message("spec.services.chain.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("blockStore", "seeds")).message("spec.services.blockStore.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("mempool", "seeds")).message("spec.services.mempool.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("transactionStore", "seeds")).message("spec.services.transactionStore.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("contractMetaStore", "seeds")).message("spec.services.contractMetaStore.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("accountHistory", "seeds")).message("spec.services.accountHistory.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("blockProducer", "seeds")).message("spec.services.blockProducer.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("jsonrpc", "seeds")).message("spec.services.jsonrpc.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("grpc", "seeds")).message("spec.services.grpc.seeds: only p2p takes seeds"),
    validation = Rule::new(absent!("chain", "ingress")).message("spec.services.chain.ingress: only jsonrpc and grpc serve HTTP behind an Ingress"),
    validation = Rule::new(absent!("blockStore", "ingress")).message("spec.services.blockStore.ingress: only jsonrpc and grpc serve HTTP behind an Ingress"),
    validation = Rule::new(absent!("mempool", "ingress")).message("spec.services.mempool.ingress: only jsonrpc and grpc serve HTTP behind an Ingress"),
    validation = Rule::new(absent!("transactionStore", "ingress")).message("spec.services.transactionStore.ingress: only jsonrpc and grpc serve HTTP behind an Ingress"),
    validation = Rule::new(absent!("contractMetaStore", "ingress")).message("spec.services.contractMetaStore.ingress: only jsonrpc and grpc serve HTTP behind an Ingress"),
    validation = Rule::new(absent!("accountHistory", "ingress")).message("spec.services.accountHistory.ingress: only jsonrpc and grpc serve HTTP behind an Ingress"),
    validation = Rule::new(absent!("blockProducer", "ingress")).message("spec.services.blockProducer.ingress: only jsonrpc and grpc serve HTTP behind an Ingress"),
    validation = Rule::new(absent!("p2p", "ingress")).message("spec.services.p2p.ingress: p2p speaks libp2p over TCP, not HTTP: expose it with service.type LoadBalancer or NodePort and announce"),
    validation = Rule::new(absent!("chain", "route")).message("spec.services.chain.route: only jsonrpc and grpc serve HTTP behind a Gateway API route"),
    validation = Rule::new(absent!("blockStore", "route")).message("spec.services.blockStore.route: only jsonrpc and grpc serve HTTP behind a Gateway API route"),
    validation = Rule::new(absent!("mempool", "route")).message("spec.services.mempool.route: only jsonrpc and grpc serve HTTP behind a Gateway API route"),
    validation = Rule::new(absent!("transactionStore", "route")).message("spec.services.transactionStore.route: only jsonrpc and grpc serve HTTP behind a Gateway API route"),
    validation = Rule::new(absent!("contractMetaStore", "route")).message("spec.services.contractMetaStore.route: only jsonrpc and grpc serve HTTP behind a Gateway API route"),
    validation = Rule::new(absent!("accountHistory", "route")).message("spec.services.accountHistory.route: only jsonrpc and grpc serve HTTP behind a Gateway API route"),
    validation = Rule::new(absent!("blockProducer", "route")).message("spec.services.blockProducer.route: only jsonrpc and grpc serve HTTP behind a Gateway API route"),
    validation = Rule::new(absent!("p2p", "route")).message("spec.services.p2p.route: p2p speaks libp2p over TCP, not HTTP: expose it with service.type LoadBalancer or NodePort and announce"),
    validation = Rule::new(absent!("grpc", "route", "path")).message("spec.services.grpc.route.path: a GRPCRoute matches gRPC services and methods, not paths"),
    validation = Rule::new(absent!("chain", "announce")).message("spec.services.chain.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("blockStore", "announce")).message("spec.services.blockStore.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("mempool", "announce")).message("spec.services.mempool.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("transactionStore", "announce")).message("spec.services.transactionStore.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("contractMetaStore", "announce")).message("spec.services.contractMetaStore.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("accountHistory", "announce")).message("spec.services.accountHistory.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("blockProducer", "announce")).message("spec.services.blockProducer.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("jsonrpc", "announce")).message("spec.services.jsonrpc.announce: only p2p announces an address to peers"),
    validation = Rule::new(absent!("grpc", "announce")).message("spec.services.grpc.announce: only p2p announces an address to peers")
)]
pub struct ServicesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_store: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mempool: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_store: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_meta_store: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_history: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_producer: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonrpc: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<Box<ServiceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<Box<ServiceSpec>>,
}

/// One Koinos service. Fields that do not apply to a service's class are rejected.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Run this service (default: true, except blockProducer outside a devnet and p2p on a
    /// devnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replicas when autoscaling is off (default 1); the autoscaler's floor when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,
    /// Full image reference overriding `spec.image` for this service (e.g. an official Koinos
    /// image: it gets the same flags and config). Unset: `spec.image`, except where a public
    /// network preset names the official image of a service ours cannot run on it yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Volumes (stores and chain only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    /// The Kubernetes Service in front of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceExposure>,
    /// Container resources; a small default request is set when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_overrides: Option<PodOverrides>,
    /// HTTP health probes on the metrics port (`/healthz`, `/readyz`). Default: on for the
    /// koinos-services image, off for any other (the official images do not serve them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_probes: Option<bool>,
    /// blockProducer only: the producer's private key (WIF). Default on a devnet: the
    /// generated `<cluster>-producer-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_secret_ref: Option<SecretKeyRef>,
    /// p2p only: peers to connect to (multiaddrs, rendered as the official `peer` option).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<String>,
    /// jsonrpc and grpc only: an Ingress in front of the client port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// jsonrpc and grpc only: a Gateway API route (HTTPRoute, GRPCRoute) to the client port.
    /// May be set beside `ingress` (both are written, e.g. while moving from one to the other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteSpec>,
    /// p2p only: the address peers outside the Kubernetes cluster dial (the LoadBalancer's DNS
    /// name or IP, a NodePort's node address), as `host`, `host:port` (default port: the
    /// Service's) or a multiaddr without `/p2p` (`/dns4/p2p.example.com/tcp/8888`). Published
    /// with the peer id as `status.p2p.externalAddress`, for another cluster's `seeds`, and
    /// given to our p2p image as `external-address`. Unset with `service.type: LoadBalancer`:
    /// the address the cloud assigns the Service (condition `P2pAnnounced`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(
            pattern = r"^(/(ip4|ip6|dns|dns4|dns6)/[^/]+/tcp/[0-9]{1,5}|[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?(:[0-9]{1,5})?)$"
        )
    )]
    pub announce: Option<String>,
}

/// How a service's Kubernetes Service is exposed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.loadBalancerSourceRanges) || size(self.loadBalancerSourceRanges) == 0 || (has(self.type) && self.type == 'LoadBalancer')").message("loadBalancerSourceRanges: only a Service of type LoadBalancer takes source ranges").field_path(".loadBalancerSourceRanges"),
    validation = Rule::new("!has(self.externalTrafficPolicy) || (has(self.type) && self.type != 'ClusterIP')").message("externalTrafficPolicy: only a Service of type LoadBalancer or NodePort takes external traffic").field_path(".externalTrafficPolicy")
)]
pub struct ServiceExposure {
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Service port for the main protocol (default: the service's own port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Annotations for the Service (e.g. load balancer settings).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// LoadBalancer only: the client CIDRs allowed through the load balancer (e.g.
    /// `203.0.113.0/24`); unset: every address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 43)))]
    #[x_kube(validation = Rule::new("self.all(c, isCIDR(c))").message("loadBalancerSourceRanges: each entry is a CIDR such as 203.0.113.0/24 or 2001:db8::/32"))]
    pub load_balancer_source_ranges: Vec<String>,
    /// LoadBalancer or NodePort only: `Local` keeps the client's source IP (only nodes running a
    /// pod take traffic), `Cluster` (Kubernetes' default) spreads over every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<ExternalTrafficPolicy>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}
