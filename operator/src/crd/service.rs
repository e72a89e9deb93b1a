//! `spec.services`: one entry per Koinos microservice.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::autoscaling::AutoscalingSpec;
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
    validation = Rule::new(cpu_scaled_rules!("grpc")).message("spec.services.grpc.autoscaling.provider: keda scales on RPC queue depth; grpc scales on CPU: use provider hpa")
)]
pub struct ServicesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_store: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mempool: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_store: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_meta_store: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_history: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_producer: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonrpc: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<ServiceSpec>,
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
    /// image: it gets the same flags and config). Unset: `spec.image`, except grpc and p2p, which
    /// that image does not ship yet: they run the official `koinos/koinos-grpc:v1.1.1` and
    /// `koinos/koinos-p2p:v1.3.0`.
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
}

/// How a service's Kubernetes Service is exposed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
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
