//! The cluster's `monitoring.coreos.com/v1` PodMonitor (`spec.monitoring.podMonitor`): one per
//! cluster, `<cluster>-metrics`, selecting every pod of the cluster by its `name`/`instance`
//! labels and scraping two named container ports: `metrics` (9100, every Koinos service) and,
//! with the managed broker, `prometheus` (15692, RabbitMQ's `rabbitmq_prometheus` plugin, which
//! the broker's config puts on that port). Each target gets a `cluster` label (the
//! KoinosCluster) and a `component` label (the service), beside the Prometheus Operator's own
//! `namespace`, `pod`, `container` and `endpoint`.
//!
//! Why a PodMonitor and not a ServiceMonitor: it scrapes the pods themselves, so it does not
//! depend on a Service carrying the metrics port (a LoadBalancer or NodePort Service never
//! does, see `service.rs`), every replica of a Deployment or StatefulSet is a target of its own,
//! and one object covers the services and the broker with one selector.
//!
//! The type is local, like KEDA's (the Prometheus Operator's CRDs may be absent; see
//! `meta::third_party_resource`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

use super::meta::{APP_NAME, LABEL_INSTANCE, LABEL_NAME, object_meta, third_party_resource};
use super::rabbitmq::PROMETHEUS_PORT_NAME;
use crate::model::naming::child_name;
use crate::model::profile::METRICS_PORT;
use crate::model::{Amqp, ValidatedCluster};

pub const MONITORING_GROUP: &str = "monitoring.coreos.com";
pub const MONITORING_VERSION: &str = "v1";
pub const MONITORING_API_VERSION: &str = "monitoring.coreos.com/v1";
/// Component label of the PodMonitor (it covers every component).
pub const COMPONENT: &str = "monitoring";
/// Path of every scraped endpoint.
pub const METRICS_PATH: &str = "/metrics";
/// Target label naming the KoinosCluster (from the pods' `app.kubernetes.io/instance`).
pub const CLUSTER_TARGET_LABEL: &str = "cluster";
/// Target label naming the service (from the pods' `app.kubernetes.io/component`).
pub const COMPONENT_TARGET_LABEL: &str = "component";

/// `monitoring.coreos.com/v1` PodMonitor (the fields the operator sets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitor {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: PodMonitorSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    pub selector: LabelSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    #[serde(default)]
    pub pod_metrics_endpoints: Vec<PodMetricsEndpoint>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_names: Vec<String>,
}

/// One scraped container port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMetricsEndpoint {
    /// The container port's name.
    pub port: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<RelabelConfig>,
}

/// A Prometheus relabeling step (the fields the operator uses).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelabelConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

third_party_resource!(
    PodMonitor,
    MONITORING_GROUP,
    MONITORING_VERSION,
    MONITORING_API_VERSION,
    "PodMonitor",
    "podmonitors"
);

/// `<cluster>-metrics`.
pub fn pod_monitor_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "metrics")
}

/// `__meta_kubernetes_pod_label_<label>` as Prometheus' Kubernetes discovery names it.
fn pod_label_meta(label: &str) -> String {
    let sanitized: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__meta_kubernetes_pod_label_{sanitized}")
}

/// `cluster` and `component` target labels from the pods' labels.
fn relabelings() -> Vec<RelabelConfig> {
    [
        (LABEL_INSTANCE, CLUSTER_TARGET_LABEL),
        (super::meta::LABEL_COMPONENT, COMPONENT_TARGET_LABEL),
    ]
    .into_iter()
    .map(|(label, target)| RelabelConfig {
        source_labels: vec![pod_label_meta(label)],
        target_label: Some(target.into()),
        action: Some("replace".into()),
    })
    .collect()
}

/// The cluster's PodMonitor, when `spec.monitoring.podMonitor.enabled`.
pub fn build_pod_monitor(vc: &ValidatedCluster) -> Option<PodMonitor> {
    let settings = vc.pod_monitor.as_ref()?;
    let mut metadata = object_meta(vc, pod_monitor_name(vc), COMPONENT);
    // The operator's labels win (validate refuses them in `labels` anyway).
    let mut labels = settings.labels.clone();
    labels.extend(metadata.labels.take().unwrap_or_default());
    metadata.labels = Some(labels);
    let endpoint = |port: &str| PodMetricsEndpoint {
        port: port.into(),
        path: METRICS_PATH.into(),
        interval: Some(settings.interval.clone()),
        relabelings: relabelings(),
    };
    let mut endpoints = vec![endpoint(METRICS_PORT.name)];
    if matches!(vc.amqp, Amqp::Managed(_)) {
        endpoints.push(endpoint(PROMETHEUS_PORT_NAME));
    }
    Some(PodMonitor {
        api_version: MONITORING_API_VERSION.into(),
        kind: "PodMonitor".into(),
        metadata,
        spec: PodMonitorSpec {
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([
                    (LABEL_NAME.to_string(), APP_NAME.to_string()),
                    (LABEL_INSTANCE.to_string(), vc.name.clone()),
                ])),
                ..Default::default()
            },
            namespace_selector: Some(NamespaceSelector {
                match_names: vec![vc.namespace.clone()],
            }),
            pod_metrics_endpoints: endpoints,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::build::{build, rabbitmq};
    use crate::test_support::{DEVNET, EXTERNAL_BROKER, generated, validated};

    const MONITORED: &str = "  monitoring: {podMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}}\n";

    #[test]
    fn pod_monitor_snapshot() {
        let vc = validated(&format!("{DEVNET}{MONITORED}"));
        let pm = build_pod_monitor(&vc).unwrap();
        insta::assert_yaml_snapshot!(pm);
        assert_eq!(pm.metadata.name.as_deref(), Some("devnet-metrics"));
        let labels = pm.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["release"], "prometheus");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "koinos-operator");
        let ports: Vec<_> = pm
            .spec
            .pod_metrics_endpoints
            .iter()
            .map(|e| (e.port.as_str(), e.interval.as_deref()))
            .collect();
        assert_eq!(
            ports,
            [("metrics", Some("15s")), ("prometheus", Some("15s"))]
        );
    }

    #[test]
    fn no_pod_monitor_unless_enabled_and_no_broker_endpoint_for_an_external_broker() {
        assert_eq!(build_pod_monitor(&validated(DEVNET)), None);
        let off = format!("{DEVNET}  monitoring: {{podMonitor: {{enabled: false}}}}\n");
        assert_eq!(build_pod_monitor(&validated(&off)), None);
        let external = validated(&format!("{EXTERNAL_BROKER}{MONITORED}"));
        let pm = build_pod_monitor(&external).unwrap();
        let ports: Vec<_> = pm
            .spec
            .pod_metrics_endpoints
            .iter()
            .map(|e| e.port.as_str())
            .collect();
        assert_eq!(ports, ["metrics"]);
        assert_eq!(
            pm.spec.namespace_selector.unwrap().match_names,
            ["prod".to_string()]
        );
    }

    /// The selector matches every pod of the cluster, and each endpoint names a port that the
    /// pods really declare: the services' `metrics` and RabbitMQ's `prometheus`.
    #[test]
    fn selector_and_ports_match_the_pods() {
        let vc = validated(&format!("{DEVNET}{MONITORED}"));
        let desired = build(&vc, &generated());
        let pm = &desired.pod_monitors[0];
        let selector = pm.spec.selector.match_labels.as_ref().unwrap();
        let mut templates: Vec<_> = desired
            .stateful_sets
            .iter()
            .map(|s| s.spec.as_ref().unwrap().template.clone())
            .chain(
                desired
                    .deployments
                    .iter()
                    .map(|d| d.spec.as_ref().unwrap().template.clone()),
            )
            .collect();
        assert!(templates.len() > 5);
        let mut scraped = BTreeMap::<String, usize>::new();
        for template in templates.drain(..) {
            let labels = template.metadata.unwrap().labels.unwrap();
            assert!(
                selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
                "{labels:?}"
            );
            for container in template.spec.unwrap().containers {
                for port in container.ports.unwrap_or_default() {
                    let name = port.name.unwrap_or_default();
                    if pm.spec.pod_metrics_endpoints.iter().any(|e| e.port == name) {
                        *scraped.entry(name).or_default() += 1;
                    }
                }
            }
        }
        assert_eq!(scraped[rabbitmq::PROMETHEUS_PORT_NAME], 1, "the broker");
        assert_eq!(
            scraped[METRICS_PORT.name],
            vc.services.len(),
            "every service: {scraped:?}"
        );
    }

    #[test]
    fn relabelings_name_cluster_and_component() {
        let rules = relabelings();
        assert_eq!(
            rules[0].source_labels,
            ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"]
        );
        assert_eq!(rules[0].target_label.as_deref(), Some("cluster"));
        assert_eq!(
            rules[1].source_labels,
            ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]
        );
        assert_eq!(rules[1].target_label.as_deref(), Some("component"));
    }
}
