//! Pod-level overrides, cluster-wide (`spec.podOverrides`) and per service
//! (`spec.services.<svc>.podOverrides`, which wins: maps merge, scalars and lists replace).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, Toleration};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Scheduling and metadata knobs applied to the pods the operator creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.labels) || !self.labels.exists(k, k in ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component'])").message("podOverrides.labels: app.kubernetes.io/name, instance and component select the pods: the operator sets them"),
    validation = Rule::new("!has(self.annotations) || !self.annotations.exists(k, k == 'koinos.io/config-hash')").message("podOverrides.annotations: koinos.io/config-hash rolls the pods when their config changes: the operator sets it"),
    validation = Rule::new("!has(self.annotations) || !self.annotations.exists(k, k == 'koinos.io/amqp-user')").message("podOverrides.annotations: koinos.io/amqp-user rolls the pods onto a new broker user: the operator sets it")
)]
pub struct PodOverrides {
    /// Extra pod labels (not the selector labels app.kubernetes.io/name, instance, component).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    pub labels: BTreeMap<String, String>,
    /// Extra pod annotations (not `koinos.io/config-hash` or `koinos.io/amqp-user`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// A core/v1 Affinity (kept schemaless here to keep the CRD small; checked by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::pod::preserve_unknown_object")]
    pub affinity: Option<serde_json::Value>,
    /// core/v1 TopologySpreadConstraints (schemaless here; checked by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::pod::preserve_unknown_array")]
    pub topology_spread_constraints: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Extra environment variables for the main container (each service's, RabbitMQ's; the
    /// cluster-wide ones also each extra service's); the names the operator sets
    /// (KOINOS_AMQP_URL, KOINOS_P2P_SEED, KOINOS_RPC_QUEUE, POD_NAME, RABBITMQ_USE_LONGNAME,
    /// RABBITMQ_NODENAME, RABBITMQ_CONFIG_FILES, RABBITMQ_LOGS, RABBITMQ_ENABLED_PLUGINS_FILE)
    /// are refused (Stalled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
}

pub fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

pub fn preserve_unknown_array(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    })
}

/// Free-form config sections: `{section: {key: value}}`.
pub fn config_sections(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    })
}
