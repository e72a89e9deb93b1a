//! `spec.extraServices`: the user's own consumers of the cluster's broker, run as members of
//! the cluster like the Koinos services (broker credentials, NetworkPolicy, queue-depth
//! autoscaling, status).

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::autoscaling::AutoscalingSpec;

/// Most extra services a cluster takes (bounds the cost of the CEL rules over the list).
pub const MAX_EXTRA_SERVICES: usize = 16;
/// Longest extra service name: `<cluster>-<name>` stays a DNS label (the cluster name takes
/// at most 32 characters).
pub const MAX_EXTRA_SERVICE_NAME: usize = 30;

/// One extra service: a Deployment `<cluster>-<name>` of the user's image that consumes one
/// AMQP queue of the cluster's broker (`queue`, default `koinos.rpc.<name>`). Its container gets
/// the broker URL as `KOINOS_AMQP_URL` (the same Secret the Koinos services read), the queue
/// as `KOINOS_RPC_QUEUE` and its pod name as `POD_NAME`; the broker's NetworkPolicy admits it;
/// with `autoscaling` it scales on the queue's depth like the stores; it is counted in
/// `status.services.<name>` and `servicesReady`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(self.name in ['chain', 'block-store', 'mempool', 'transaction-store', 'contract-meta-store', 'account-history', 'block-producer', 'jsonrpc', 'grpc', 'p2p', 'rabbitmq', 'rabbitmq-headless', 'rabbitmq-config', 'config', 'amqp', 'genesis', 'producer-key', 'p2p-identity', 'keda-amqp', 'metrics'])").message("name: the name of one of the operator's own children (a Koinos service, the broker, config, amqp, genesis, producer-key, p2p-identity, keda-amqp, metrics): choose another").field_path(".name"),
    validation = Rule::new("!has(self.queue) || !(self.queue in ['koinos.rpc.chain', 'koinos.rpc.block_store', 'koinos.rpc.mempool', 'koinos.rpc.transaction_store', 'koinos.rpc.contract_meta_store', 'koinos.rpc.account_history', 'koinos.rpc.block_producer', 'koinos.rpc.jsonrpc', 'koinos.rpc.grpc', 'koinos.rpc.p2p'])").message("queue: the RPC queue of a Koinos service: an extra consumer there would take the service's requests").field_path(".queue"),
    validation = Rule::new("!has(self.queue) || !self.queue.startsWith('amq.')").message("queue: names starting with amq. are reserved by the broker").field_path(".queue"),
    validation = Rule::new("!has(self.autoscaling) || !has(self.autoscaling.targetCpuUtilizationPercentage)").message("autoscaling.targetCpuUtilizationPercentage: an extra service scales on its queue's depth: use targetQueueDepth").field_path(".autoscaling.targetCpuUtilizationPercentage"),
    validation = Rule::new("!has(self.env) || self.env.all(e, !(e.name in ['KOINOS_AMQP_URL', 'KOINOS_RPC_QUEUE', 'POD_NAME']))").message("env: KOINOS_AMQP_URL, KOINOS_RPC_QUEUE and POD_NAME are set by the operator").field_path(".env")
)]
pub struct ExtraServiceSpec {
    /// The service's name (a DNS label of at most 30 characters, not one of the operator's own
    /// children): its children are `<cluster>-<name>`, its pods' component label `<name>`, its
    /// status `status.services.<name>`.
    #[schemars(
        length(min = 1, max = 30),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// The container image (full reference); pulled with `spec.image.pullPolicy` and
    /// `spec.image.pullSecrets`.
    #[schemars(length(min = 1, max = 512))]
    pub image: String,
    /// The container's entrypoint (default: the image's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub command: Vec<String>,
    /// Arguments to the entrypoint; `$(KOINOS_AMQP_URL)` and `$(KOINOS_RPC_QUEUE)` expand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128))]
    pub args: Vec<String>,
    /// Replicas when autoscaling is off (default 1); the autoscaler's floor when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,
    /// Extra environment variables (after `spec.podOverrides.env`); not the operator's own
    /// `KOINOS_AMQP_URL`, `KOINOS_RPC_QUEUE`, `POD_NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub env: Vec<EnvVar>,
    /// Container resources; a small default request (100m CPU, 128Mi) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The AMQP queue the service consumes (default `koinos.rpc.<name>`): its depth is served
    /// by the operator's metrics API, drives `autoscaling` and shows as
    /// `status.services.<name>.queueDepth`. Not a Koinos service's queue, not `amq.*`, not
    /// another extra service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[A-Za-z0-9._:-]+$"))]
    pub queue: Option<String>,
    /// Scaling on the queue's depth (`targetQueueDepth` messages per replica, default 20),
    /// by the operator's HPA or KEDA's (`provider: keda`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
}
