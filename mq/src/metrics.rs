//! The process's one Prometheus registry and the metric families the messaging layer keeps
//! (RPC servers, the typed layer, broadcasts). The services' runtime serves this registry on
//! `/metrics` and re-exports this module as `koinos_services::runtime::metrics`.
//!
//! Every metric is named `koinos_<service>_<subsystem>_<name>`; families are created once per
//! service name and shared (several servers of one service in a process count together).
//! Services add their own with [`register`].

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

/// The process-wide registry served on `/metrics`.
pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// Registers a collector in the process registry; a second registration of the same name is
/// ignored (the first one keeps counting), so tests may start a service twice.
pub fn register<C: prometheus::core::Collector + Clone + 'static>(collector: &C) {
    match REGISTRY.register(Box::new(collector.clone())) {
        Ok(()) | Err(prometheus::Error::AlreadyReg) => {}
        Err(err) => tracing::warn!(error = %err, "metric registration failed"),
    }
}

/// Metric name for `service` and `name`: `koinos_<service>_<name>`.
pub fn metric_name(service: &str, name: &str) -> String {
    let service = service.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    format!("koinos_{service}_{name}")
}

/// The RPC metrics of one service, shared by its servers and its typed layer.
#[derive(Debug)]
pub struct RpcMetrics {
    /// `rpc_requests_total{method,outcome}`: outcome is ok, error, malformed or panic.
    pub requests: IntCounterVec,
    /// `rpc_request_duration_seconds{method}`: handler time.
    pub duration: HistogramVec,
    /// `rpc_deliveries_dropped_total{reason}`: content_type, oversized, expired, panic.
    pub dropped: IntCounterVec,
    /// `rpc_in_flight`: handlers running now.
    pub in_flight: IntGauge,
    /// `rpc_redeliveries_total`: requests delivered again after a consumer or broker failure.
    pub redelivered: IntCounter,
}

impl RpcMetrics {
    /// The (shared) RPC metrics of `service`, registered on first use.
    pub fn for_service(service: &str) -> Arc<RpcMetrics> {
        static BY_SERVICE: LazyLock<Mutex<HashMap<String, Arc<RpcMetrics>>>> =
            LazyLock::new(Default::default);
        let mut map = BY_SERVICE.lock().expect("metrics lock");
        map.entry(service.to_owned())
            .or_insert_with(|| Arc::new(RpcMetrics::new(service)))
            .clone()
    }

    fn new(service: &str) -> RpcMetrics {
        let name = |n: &str| metric_name(service, n);
        let requests = IntCounterVec::new(
            Opts::new(name("rpc_requests_total"), "RPC requests handled"),
            &["method", "outcome"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(name("rpc_request_duration_seconds"), "RPC handler time")
                .buckets(prometheus::exponential_buckets(0.0001, 4.0, 10).expect("buckets")),
            &["method"],
        )
        .expect("valid metric");
        let dropped = IntCounterVec::new(
            Opts::new(
                name("rpc_deliveries_dropped_total"),
                "RPC deliveries dropped without processing",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new(name("rpc_in_flight"), "RPC handlers running").expect("m");
        let redelivered = IntCounter::new(
            name("rpc_redeliveries_total"),
            "RPC requests delivered again after a failure",
        )
        .expect("valid metric");
        register(&requests);
        register(&duration);
        register(&dropped);
        register(&in_flight);
        register(&redelivered);
        RpcMetrics {
            requests,
            duration,
            dropped,
            in_flight,
            redelivered,
        }
    }

    /// Count of deliveries dropped for `reason` so far.
    pub fn dropped_count(&self, reason: &str) -> u64 {
        self.dropped.with_label_values(&[reason]).get()
    }

    /// Count of requests of `method` that ended with `outcome` so far.
    pub fn request_count(&self, method: &str, outcome: &str) -> u64 {
        self.requests.with_label_values(&[method, outcome]).get()
    }
}

/// Renders the registry in the Prometheus text format.
pub fn render() -> String {
    use prometheus::Encoder;
    let mut out = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(err) = encoder.encode(&REGISTRY.gather(), &mut out) {
        tracing::warn!(error = %err, "metrics encoding failed");
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_metrics_are_prefixed_and_shared_per_service() {
        let a = RpcMetrics::for_service("metrics_unit_test");
        let b = RpcMetrics::for_service("metrics_unit_test");
        a.requests.with_label_values(&["get_x", "ok"]).inc();
        assert_eq!(b.request_count("get_x", "ok"), 1);
        let text = render();
        assert!(
            text.contains(
                r#"koinos_metrics_unit_test_rpc_requests_total{method="get_x",outcome="ok"} 1"#
            ),
            "{text}"
        );
    }
}
