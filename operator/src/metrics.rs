//! Prometheus metrics of the operator (one registry per process, prefix `koinos_operator_`):
//! its own work (reconciles, writes, leadership) and what it reads of each cluster's chain and
//! queues (`koinos_operator_chain_*`, `koinos_operator_queue_*`, labelled `namespace` and
//! `cluster`, set by [`crate::controller::cluster_metrics`]). The chart's alerts and dashboard
//! use these names; a test checks that every name they use is one registered here.

use std::time::Instant;

use prometheus::core::Collector;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// Labels of the per-cluster gauges: the KoinosCluster's namespace and name.
pub const CLUSTER_LABELS: [&str; 2] = ["namespace", "cluster"];
/// Labels of the per-queue gauges: the cluster's, the service's spec name (`blockStore`) and
/// its RPC queue (`koinos.rpc.block_store`).
pub const QUEUE_LABELS: [&str; 4] = ["namespace", "cluster", "service", "queue"];

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: IntCounterVec,
    pub failures: IntCounterVec,
    pub duration: HistogramVec,
    pub writes: IntCounterVec,
    pub leader: IntGauge,
    /// `koinos_operator_chain_head_height{namespace,cluster}`: the head block's height at the
    /// last successful read (kept while reads fail: heights only grow).
    pub chain_head_height: IntGaugeVec,
    /// `koinos_operator_chain_last_irreversible_block{namespace,cluster}`.
    pub chain_last_irreversible_block: IntGaugeVec,
    /// `koinos_operator_chain_lag_seconds{namespace,cluster}`: how far the head block's time
    /// was behind the operator's clock at the last successful read.
    pub chain_lag_seconds: IntGaugeVec,
    /// `koinos_operator_chain_reachable{namespace,cluster}`: 1 when this pass read the head,
    /// 0 when it could not (the `ChainReachable` condition says why).
    pub chain_reachable: IntGaugeVec,
    /// `koinos_operator_queue_depth{namespace,cluster,service,queue}`: ready messages of an RPC
    /// queue (the autoscaling signal); absent when it could not be read.
    pub queue_depth: IntGaugeVec,
    /// `koinos_operator_queue_consumers{namespace,cluster,service,queue}`: consumers attached
    /// to an RPC queue; 0 means no replica of the service is serving it.
    pub queue_consumers: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "koinos_operator_reconciles_total",
                "Reconciliations by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let failures = IntCounterVec::new(
            Opts::new(
                "koinos_operator_reconcile_failures_total",
                "Failed reconciliations by error category",
            ),
            &["category"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "koinos_operator_reconcile_duration_seconds",
                "Reconciliation duration",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &[],
        )
        .expect("valid metric");
        let writes = IntCounterVec::new(
            Opts::new(
                "koinos_operator_child_writes_total",
                "Child objects written (applied or deleted)",
            ),
            &["operation"],
        )
        .expect("valid metric");
        let leader = IntGauge::new(
            "koinos_operator_leader",
            "1 while this replica holds the leader Lease",
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        let metrics = Self {
            registry,
            reconciles,
            failures,
            duration,
            writes,
            leader,
            chain_head_height: gauge(
                "koinos_operator_chain_head_height",
                "Height of the cluster's head block at the last successful read",
                &CLUSTER_LABELS,
            ),
            chain_last_irreversible_block: gauge(
                "koinos_operator_chain_last_irreversible_block",
                "The cluster's last irreversible block at the last successful read",
                &CLUSTER_LABELS,
            ),
            chain_lag_seconds: gauge(
                "koinos_operator_chain_lag_seconds",
                "Seconds the head block's time was behind the operator's clock at the last successful read",
                &CLUSTER_LABELS,
            ),
            chain_reachable: gauge(
                "koinos_operator_chain_reachable",
                "1 when the operator read the cluster's chain head this pass, 0 when it could not",
                &CLUSTER_LABELS,
            ),
            queue_depth: gauge(
                "koinos_operator_queue_depth",
                "Messages ready in a service's RPC queue",
                &QUEUE_LABELS,
            ),
            queue_consumers: gauge(
                "koinos_operator_queue_consumers",
                "Consumers attached to a service's RPC queue",
                &QUEUE_LABELS,
            ),
        };
        for collector in metrics.collectors() {
            metrics
                .registry
                .register(collector)
                .expect("metric names are unique");
        }
        metrics
    }

    /// Every collector of the registry.
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.reconciles.clone()),
            Box::new(self.failures.clone()),
            Box::new(self.duration.clone()),
            Box::new(self.writes.clone()),
            Box::new(self.leader.clone()),
            Box::new(self.chain_head_height.clone()),
            Box::new(self.chain_last_irreversible_block.clone()),
            Box::new(self.chain_lag_seconds.clone()),
            Box::new(self.chain_reachable.clone()),
            Box::new(self.queue_depth.clone()),
            Box::new(self.queue_consumers.clone()),
        ]
    }

    /// The name of every metric family this registry exports, whether or not it has a series
    /// yet (histograms also export `_bucket`, `_sum` and `_count`).
    pub fn family_names(&self) -> Vec<String> {
        self.collectors()
            .iter()
            .flat_map(|c| c.desc().into_iter().map(|d| d.fq_name.clone()))
            .collect()
    }

    /// Times one reconciliation; observed when dropped.
    pub fn time_reconcile(&self) -> ReconcileTimer {
        ReconcileTimer {
            histogram: self.duration.with_label_values::<&str>(&[]),
            start: Instant::now(),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let encoder = prometheus::TextEncoder::new();
        encoder
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

pub struct ReconcileTimer {
    histogram: prometheus::Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod chart_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_and_counters_show_in_exposition() {
        let metrics = Metrics::new();
        metrics.reconciles.with_label_values(&["success"]).inc();
        metrics.failures.with_label_values(&["Apply"]).inc();
        drop(metrics.time_reconcile());
        let text = metrics.render();
        assert!(
            text.contains("koinos_operator_reconciles_total{outcome=\"success\"} 1"),
            "{text}"
        );
        assert!(text.contains("koinos_operator_reconcile_failures_total{category=\"Apply\"} 1"));
        assert!(text.contains("koinos_operator_reconcile_duration_seconds_count 1"));
    }
}
