//! The queue-depth metric contract: what the HPAs (and KEDA's trigger) ask for and what the
//! external metrics API serves.

/// External metric: ready + unacknowledged messages of a cluster's RPC queue.
pub const QUEUE_DEPTH_METRIC: &str = "koinos_rpc_queue_depth";
/// Metric selector labels.
pub const METRIC_LABEL_CLUSTER: &str = "cluster";
pub const METRIC_LABEL_QUEUE: &str = "queue";
