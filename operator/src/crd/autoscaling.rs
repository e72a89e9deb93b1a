//! `autoscaling` of a scalable service.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Horizontal autoscaling. Stores and mempool scale on the depth of their RPC queue
/// `koinos.rpc.<service>`; gateways (jsonrpc, grpc) scale on CPU. When enabled the
/// autoscaler (the operator's HorizontalPodAutoscaler, or KEDA's with `provider: keda`) owns
/// the workload's replicas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minReplicas) || self.minReplicas <= self.maxReplicas").message("autoscaling.minReplicas must not exceed autoscaling.maxReplicas"))]
pub struct AutoscalingSpec {
    /// Turn autoscaling on.
    #[serde(default)]
    pub enabled: bool,
    /// Who scales: `hpa` (default), a HorizontalPodAutoscaler on the operator's own External
    /// metric `koinos_rpc_queue_depth` (nothing else to install), or `keda`, a KEDA
    /// ScaledObject with a `rabbitmq` trigger on the RPC queue (KEDA must be installed; it
    /// counts ready messages only). `keda` is for queue-depth services (stores, mempool);
    /// gateways scale on CPU with `hpa`.
    #[serde(default)]
    pub provider: AutoscalingProvider,
    /// Floor; defaults to the service's `replicas` (or 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_replicas: Option<i32>,
    /// Ceiling.
    #[serde(default = "default_max_replicas")]
    #[schemars(range(min = 1))]
    pub max_replicas: i32,
    /// Stores and mempool (they scale on the depth of their RPC queue): target depth per
    /// replica (default 20). Rejected on jsonrpc and grpc, which scale on CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub target_queue_depth: Option<i32>,
    /// jsonrpc and grpc (they scale on CPU): target average CPU utilization, percent of
    /// requests (default 70). Rejected on stores and mempool, which scale on queue depth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: Option<i32>,
    /// Scale-down stabilization window in seconds.
    #[serde(default = "default_scale_down_stabilization")]
    #[schemars(range(min = 0, max = 3600))]
    pub scale_down_stabilization_seconds: i32,
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            provider: AutoscalingProvider::default(),
            min_replicas: None,
            max_replicas: default_max_replicas(),
            target_queue_depth: None,
            target_cpu_utilization_percentage: None,
            scale_down_stabilization_seconds: default_scale_down_stabilization(),
        }
    }
}

/// What runs the autoscaler of a service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AutoscalingProvider {
    /// The operator's HorizontalPodAutoscaler and its external metrics API.
    #[default]
    Hpa,
    /// A KEDA ScaledObject (`keda.sh/v1alpha1`); KEDA creates the HPA.
    Keda,
}

fn default_max_replicas() -> i32 {
    3
}
/// `targetQueueDepth` when unset.
pub const DEFAULT_TARGET_QUEUE_DEPTH: i32 = 20;
/// `targetCpuUtilizationPercentage` when unset.
pub const DEFAULT_TARGET_CPU: i32 = 70;
fn default_scale_down_stabilization() -> i32 {
    300
}
