//! `spec.amqp`: the cluster's message broker.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::network::SecretKeyRef;
use super::pod::PodOverrides;
use super::storage::StorageSpec;

/// Exactly one of `managed` (the operator runs RabbitMQ) or `external` (a broker you run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.managed) != has(self.external)").message("spec.amqp: set exactly one of managed or external"))]
pub struct AmqpSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedAmqp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalAmqp>,
}

impl Default for AmqpSpec {
    fn default() -> Self {
        Self {
            managed: Some(ManagedAmqp::default()),
            external: None,
        }
    }
}

/// A RabbitMQ StatefulSet run by the operator, with generated credentials in `<cluster>-amqp`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedAmqp {
    /// RabbitMQ nodes (clustered by classic peer discovery when > 1).
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 7))]
    pub replicas: i32,
    /// RabbitMQ image.
    #[serde(default = "default_rabbitmq_image")]
    pub image: String,
    /// Volume per RabbitMQ node (default 8Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_overrides: Option<PodOverrides>,
}

impl Default for ManagedAmqp {
    fn default() -> Self {
        Self {
            replicas: default_replicas(),
            image: default_rabbitmq_image(),
            storage: None,
            resources: None,
            pod_overrides: None,
        }
    }
}

fn default_replicas() -> i32 {
    1
}

/// The default broker image.
pub const DEFAULT_RABBITMQ_IMAGE: &str = "docker.io/library/rabbitmq:4.1-alpine";

fn default_rabbitmq_image() -> String {
    DEFAULT_RABBITMQ_IMAGE.into()
}

/// A broker outside the cluster: its URL (with credentials) comes from a Secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAmqp {
    /// Secret key holding an `amqp://user:password@host:port/vhost` URL, or `amqps://` for
    /// TLS (port 5671 unless the URL says otherwise).
    pub url_secret_ref: SecretKeyRef,
    /// TLS to an `amqps://` broker whose certificate is signed by a private CA. Without it an
    /// `amqps://` URL is verified against the system roots of each image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ExternalAmqpTls>,
}

/// How the services and the operator verify an `amqps://` broker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAmqpTls {
    /// Secret key holding the PEM CA bundle the broker's certificate must chain to (it
    /// replaces the system roots). Mounted read-only into every service pod; the URL must then
    /// be `amqps://`.
    pub ca_secret_ref: SecretKeyRef,
}
