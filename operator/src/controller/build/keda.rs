//! KEDA objects (`keda.sh/v1alpha1`) for services with `autoscaling.provider: keda`: one
//! ScaledObject per service, with a `rabbitmq` trigger on its RPC queue, and one
//! TriggerAuthentication per cluster that hands KEDA the broker URL from the cluster's AMQP
//! Secret. KEDA then makes and drives the HorizontalPodAutoscaler itself.
//!
//! The types are local (KEDA's CRDs may be absent, and no crate we trust ships them; see
//! `meta::third_party_resource`).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerBehavior};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::hpa::workload_kind;
use super::meta::{object_meta, third_party_resource};
use crate::crd::autoscaling::AutoscalingProvider;
use crate::crd::network::SecretKeyRef;
use crate::model::naming::{amqp_url_secret, child_name};
use crate::model::profile::ScaleSignal;
use crate::model::{Autoscaling, ValidatedCluster, ValidatedService};

pub const KEDA_GROUP: &str = "keda.sh";
pub const KEDA_VERSION: &str = "v1alpha1";
pub const KEDA_API_VERSION: &str = "keda.sh/v1alpha1";
/// Component label of the TriggerAuthentication (it serves every keda-scaled service).
pub const COMPONENT: &str = "keda";
/// The KEDA trigger parameter that carries the broker URL (`amqp://user:pass@host:port/vhost`);
/// KEDA takes the vhost from the URL.
pub const HOST_PARAMETER: &str = "host";

/// `keda.sh/v1alpha1` ScaledObject (the fields the operator sets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObject {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ScaledObjectSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub scale_target_ref: ScaleTargetRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replica_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedConfig>,
    #[serde(default)]
    pub triggers: Vec<ScaleTrigger>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler_config: Option<HorizontalPodAutoscalerConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTrigger {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_ref: Option<AuthenticationRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationRef {
    pub name: String,
}

/// `keda.sh/v1alpha1` TriggerAuthentication (the fields the operator sets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerAuthentication {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: TriggerAuthenticationSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerAuthenticationSpec {
    #[serde(default)]
    pub secret_target_ref: Vec<SecretTargetRef>,
}

/// A trigger parameter read from a Secret key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretTargetRef {
    pub parameter: String,
    pub name: String,
    pub key: String,
}

third_party_resource!(
    ScaledObject,
    KEDA_GROUP,
    KEDA_VERSION,
    KEDA_API_VERSION,
    "ScaledObject",
    "scaledobjects"
);
third_party_resource!(
    TriggerAuthentication,
    KEDA_GROUP,
    KEDA_VERSION,
    KEDA_API_VERSION,
    "TriggerAuthentication",
    "triggerauthentications"
);

/// `<cluster>-keda-amqp`.
pub fn trigger_authentication_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "keda-amqp")
}

/// Services that KEDA scales: autoscaling on with provider `keda`, on their queue depth. None
/// when the cluster is stopped (it is scaled to zero; KEDA would fight that).
fn keda_scaled(vc: &ValidatedCluster) -> impl Iterator<Item = &ValidatedService> {
    vc.services.iter().filter(|svc| {
        vc.running_autoscaling(svc)
            .is_some_and(|a| a.provider == AutoscalingProvider::Keda)
            && svc.profile.scale_signal == Some(ScaleSignal::QueueDepth)
            && svc.profile.rpc_queue.is_some()
    })
}

/// The ScaledObject of a keda-scaled service: a `rabbitmq` trigger, QueueLength mode over
/// AMQP, `targetQueueDepth` messages per replica on `koinos.rpc.<service>`.
pub fn build_service_scaled_object(
    vc: &ValidatedCluster,
    svc: &ValidatedService,
) -> Option<ScaledObject> {
    let autoscaling = svc
        .autoscaling
        .as_ref()
        .filter(|a| a.provider == AutoscalingProvider::Keda)?;
    let profile = svc.profile;
    Some(build_scaled_object(
        vc,
        profile.component,
        workload_kind(profile),
        profile.rpc_queue?,
        autoscaling,
    ))
}

/// The ScaledObject `<cluster>-<component>` scaling that workload (`kind`) on the depth of
/// `queue`: a Koinos service's or an extra service's.
pub fn build_scaled_object(
    vc: &ValidatedCluster,
    component: &str,
    kind: &str,
    queue: &str,
    autoscaling: &Autoscaling,
) -> ScaledObject {
    let name = child_name(vc, component);
    let metadata = BTreeMap::from([
        ("protocol".to_string(), "amqp".to_string()),
        ("mode".to_string(), "QueueLength".to_string()),
        (
            "value".to_string(),
            autoscaling.target_queue_depth.to_string(),
        ),
        ("queueName".to_string(), queue.to_string()),
    ]);
    ScaledObject {
        api_version: KEDA_API_VERSION.into(),
        kind: "ScaledObject".into(),
        metadata: object_meta(vc, name.clone(), component),
        spec: ScaledObjectSpec {
            scale_target_ref: ScaleTargetRef {
                api_version: Some("apps/v1".into()),
                kind: Some(kind.into()),
                name,
            },
            min_replica_count: Some(autoscaling.min_replicas),
            max_replica_count: Some(autoscaling.max_replicas),
            advanced: Some(AdvancedConfig {
                horizontal_pod_autoscaler_config: Some(HorizontalPodAutoscalerConfig {
                    behavior: Some(HorizontalPodAutoscalerBehavior {
                        scale_down: Some(HPAScalingRules {
                            stabilization_window_seconds: Some(
                                autoscaling.scale_down_stabilization_seconds,
                            ),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                }),
            }),
            triggers: vec![ScaleTrigger {
                type_: "rabbitmq".into(),
                metadata,
                authentication_ref: Some(AuthenticationRef {
                    name: trigger_authentication_name(vc),
                }),
            }],
        },
    }
}

/// The cluster's TriggerAuthentication: KEDA reads the broker URL (`host`) from the AMQP
/// Secret, so credentials never appear in a ScaledObject.
pub fn build_trigger_authentication(vc: &ValidatedCluster) -> TriggerAuthentication {
    let SecretKeyRef { name: secret, key } = amqp_url_secret(vc);
    TriggerAuthentication {
        api_version: KEDA_API_VERSION.into(),
        kind: "TriggerAuthentication".into(),
        metadata: object_meta(vc, trigger_authentication_name(vc), COMPONENT),
        spec: TriggerAuthenticationSpec {
            secret_target_ref: vec![SecretTargetRef {
                parameter: HOST_PARAMETER.into(),
                name: secret,
                key,
            }],
        },
    }
}

/// Every KEDA object of the cluster: the ScaledObjects (the Koinos services', then the extra
/// services'), plus the TriggerAuthentication when there is at least one.
pub fn build_keda(vc: &ValidatedCluster) -> (Vec<ScaledObject>, Vec<TriggerAuthentication>) {
    let scaled: Vec<_> = keda_scaled(vc)
        .filter_map(|svc| build_service_scaled_object(vc, svc))
        .chain(
            vc.extra_services
                .iter()
                .filter_map(|extra| super::extra::build_extra_scaled_object(vc, extra)),
        )
        .collect();
    let auth = if scaled.is_empty() {
        Vec::new()
    } else {
        vec![build_trigger_authentication(vc)]
    };
    (scaled, auth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ServiceKind;
    use crate::test_support::{API_NODE, validated};

    /// The API node with block_store and mempool scaled by KEDA.
    pub fn keda_node() -> String {
        API_NODE
            .replace(
                "targetQueueDepth: 20}",
                "targetQueueDepth: 20, provider: keda}",
            )
            .replace(
                "mempool: {replicas: 2}",
                "mempool: {replicas: 2, autoscaling: {enabled: true, provider: keda, maxReplicas: 4, targetQueueDepth: 50, scaleDownStabilizationSeconds: 60}}",
            )
    }

    #[test]
    fn store_scaled_object_snapshot() {
        let vc = validated(&keda_node());
        let so =
            build_service_scaled_object(&vc, vc.service(ServiceKind::BlockStore).unwrap()).unwrap();
        insta::assert_yaml_snapshot!(so);
        assert_eq!(
            so.spec.scale_target_ref.kind.as_deref(),
            Some("StatefulSet")
        );
        assert_eq!(so.spec.scale_target_ref.name, "mainnet-block-store");
        assert_eq!(
            (so.spec.min_replica_count, so.spec.max_replica_count),
            (Some(2), Some(6))
        );
        let trigger = &so.spec.triggers[0];
        assert_eq!(trigger.type_, "rabbitmq");
        assert_eq!(trigger.metadata["queueName"], "koinos.rpc.block_store");
        assert_eq!(trigger.metadata["value"], "20");
        assert!(
            !trigger.metadata.contains_key(HOST_PARAMETER),
            "the URL with its credentials comes only from the Secret"
        );
        assert_eq!(
            trigger.authentication_ref.as_ref().unwrap().name,
            "mainnet-keda-amqp"
        );
    }

    #[test]
    fn mempool_scaled_object_targets_its_deployment_with_its_window() {
        let vc = validated(&keda_node());
        let so =
            build_service_scaled_object(&vc, vc.service(ServiceKind::Mempool).unwrap()).unwrap();
        assert_eq!(so.spec.scale_target_ref.kind.as_deref(), Some("Deployment"));
        assert_eq!(
            so.spec.triggers[0].metadata["queueName"],
            "koinos.rpc.mempool"
        );
        assert_eq!(so.spec.triggers[0].metadata["value"], "50");
        let window = so
            .spec
            .advanced
            .and_then(|a| a.horizontal_pod_autoscaler_config)
            .and_then(|c| c.behavior)
            .and_then(|b| b.scale_down)
            .and_then(|d| d.stabilization_window_seconds);
        assert_eq!(window, Some(60));
    }

    #[test]
    fn trigger_authentication_reads_the_managed_broker_secret() {
        let vc = validated(&keda_node());
        let auth = build_trigger_authentication(&vc);
        insta::assert_yaml_snapshot!(auth);
        let target = &auth.spec.secret_target_ref[0];
        assert_eq!(
            (
                target.parameter.as_str(),
                target.name.as_str(),
                target.key.as_str()
            ),
            ("host", "mainnet-amqp-reader", "url")
        );
    }

    #[test]
    fn trigger_authentication_reads_an_external_broker_secret() {
        let yaml = crate::test_support::EXTERNAL_BROKER
            .replace("maxReplicas: 4}", "maxReplicas: 4, provider: keda}");
        let vc = validated(&yaml);
        let (scaled, auth) = build_keda(&vc);
        assert_eq!(scaled.len(), 1);
        let target = &auth[0].spec.secret_target_ref[0];
        assert_eq!(
            (target.name.as_str(), target.key.as_str()),
            ("broker", "url")
        );
    }

    #[test]
    fn no_keda_objects_for_hpa_provider_or_a_stopped_cluster() {
        let (scaled, auth) = build_keda(&validated(API_NODE));
        assert!(scaled.is_empty() && auth.is_empty());
        let stopped = format!("{}  clusterOperation: {{stopped: true}}\n", keda_node());
        let (scaled, auth) = build_keda(&validated(&stopped));
        assert!(scaled.is_empty() && auth.is_empty());
    }
}
