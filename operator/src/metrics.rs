//! Prometheus metrics of the operator (one registry per process, prefix `koinos_operator_`).

use std::time::Instant;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: IntCounterVec,
    pub failures: IntCounterVec,
    pub duration: HistogramVec,
    pub writes: IntCounterVec,
    pub leader: IntGauge,
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
        for collector in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(failures.clone()),
            Box::new(duration.clone()),
            Box::new(writes.clone()),
            Box::new(leader.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            reconciles,
            failures,
            duration,
            writes,
            leader,
        }
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
