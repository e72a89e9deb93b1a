//! `spec.monitoring`: Prometheus scraping of the cluster through the Prometheus Operator.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Monitoring of the cluster. Every service serves Prometheus metrics on its `metrics` port
/// (9100) and the managed RabbitMQ on `prometheus` (15692); the operator serves what it reads of
/// the chain and queues on its own `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// A `monitoring.coreos.com/v1` PodMonitor `<cluster>-metrics` selecting the cluster's pods:
    /// every service's `metrics` port and the managed broker's `prometheus` port. Needs the
    /// Prometheus Operator's CRDs; without them the cluster still runs and its `Monitoring`
    /// condition says what is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_monitor: Option<PodMonitorSpec>,
}

/// The cluster's PodMonitor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.labels) || !self.labels.exists(k, k in ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/part-of'])").message("spec.monitoring.podMonitor.labels: app.kubernetes.io/name, instance, component, managed-by and part-of mark the operator's children: the operator sets them")
)]
pub struct PodMonitorSpec {
    /// Write the PodMonitor (turning it off deletes it).
    #[serde(default)]
    pub enabled: bool,
    /// Extra labels on the PodMonitor, e.g. the one your Prometheus' `podMonitorSelector`
    /// matches (`release: prometheus` for kube-prometheus-stack).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub labels: BTreeMap<String, String>,
    /// Scrape interval of every endpoint, a Prometheus duration (`30s`, `1m`, `1m30s`).
    #[serde(default = "default_interval")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new("self.matches('^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$') && self.matches('[1-9]')").message("spec.monitoring.podMonitor.interval: a Prometheus duration such as 30s, 1m or 1m30s, not zero"))]
    pub interval: String,
}

impl Default for PodMonitorSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            labels: BTreeMap::new(),
            interval: default_interval(),
        }
    }
}

/// `interval` when unset.
pub const DEFAULT_SCRAPE_INTERVAL: &str = "30s";

fn default_interval() -> String {
    DEFAULT_SCRAPE_INTERVAL.into()
}
