//! HorizontalPodAutoscalers (autoscaling/v2): stores and mempool scale on the depth of their
//! RPC queue (an External metric served by the operator), gateways on CPU. With
//! `autoscaling.provider: keda` KEDA makes the HPA instead (see `keda.rs`).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, ExternalMetricSource, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::meta::object_meta;
use crate::crd::autoscaling::AutoscalingProvider;
use crate::model::metric::{METRIC_LABEL_CLUSTER, METRIC_LABEL_QUEUE, QUEUE_DEPTH_METRIC};
use crate::model::naming::child_name;
use crate::model::profile::{ScaleSignal, ServiceProfile};
use crate::model::{Autoscaling, ValidatedCluster, ValidatedService};

/// Kind of the workload an autoscaler targets (`apps/v1`).
pub fn workload_kind(profile: &ServiceProfile) -> &'static str {
    if profile.class.is_stateful_set() {
        "StatefulSet"
    } else {
        "Deployment"
    }
}

/// The service's HPA, when autoscaling is on with provider `hpa` and the cluster runs.
pub fn build_service_hpa(
    vc: &ValidatedCluster,
    svc: &ValidatedService,
) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = vc
        .running_autoscaling(svc)
        .filter(|a| a.provider == AutoscalingProvider::Hpa)?;
    let profile = svc.profile;
    let metric = match profile.scale_signal? {
        ScaleSignal::QueueDepth => queue_depth_metric(vc, profile.rpc_queue?, autoscaling),
        ScaleSignal::Cpu => MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: "cpu".into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(autoscaling.target_cpu_utilization_percentage),
                    ..Default::default()
                },
            }),
            ..Default::default()
        },
    };
    Some(build_hpa(
        vc,
        profile.component,
        workload_kind(profile),
        metric,
        autoscaling,
    ))
}

/// The External metric `koinos_rpc_queue_depth` of `queue` in this cluster (served by the
/// operator's metrics API), `targetQueueDepth` messages per replica.
pub fn queue_depth_metric(
    vc: &ValidatedCluster,
    queue: &str,
    autoscaling: &Autoscaling,
) -> MetricSpec {
    MetricSpec {
        type_: "External".into(),
        external: Some(ExternalMetricSource {
            metric: MetricIdentifier {
                name: QUEUE_DEPTH_METRIC.into(),
                selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([
                        (METRIC_LABEL_CLUSTER.to_string(), vc.name.clone()),
                        (METRIC_LABEL_QUEUE.to_string(), queue.to_string()),
                    ])),
                    ..Default::default()
                }),
            },
            target: MetricTarget {
                type_: "AverageValue".into(),
                average_value: Some(Quantity(autoscaling.target_queue_depth.to_string())),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// The HPA `<cluster>-<component>` scaling that workload (`kind`) on `metric`: a Koinos
/// service's or an extra service's.
pub fn build_hpa(
    vc: &ValidatedCluster,
    component: &str,
    kind: &str,
    metric: MetricSpec,
    autoscaling: &Autoscaling,
) -> HorizontalPodAutoscaler {
    let name = child_name(vc, component);
    HorizontalPodAutoscaler {
        metadata: object_meta(vc, name.clone(), component),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: kind.into(),
                name,
            },
            min_replicas: Some(autoscaling.min_replicas),
            max_replicas: autoscaling.max_replicas,
            metrics: Some(vec![metric]),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_down: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(
                        autoscaling.scale_down_stabilization_seconds,
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ServiceKind;
    use crate::test_support::{API_NODE, validated};

    #[test]
    fn store_scales_on_queue_depth() {
        let vc = validated(API_NODE);
        let hpa = build_service_hpa(&vc, vc.service(ServiceKind::BlockStore).unwrap()).unwrap();
        insta::assert_yaml_snapshot!(hpa);
        let metric = &hpa.spec.metrics.as_ref().unwrap()[0];
        let external = metric.external.as_ref().unwrap();
        assert_eq!(external.target.type_, "AverageValue");
        assert_eq!(external.target.average_value, Some(Quantity("20".into())));
        let labels = external
            .metric
            .selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap();
        assert_eq!(labels[METRIC_LABEL_QUEUE], "koinos.rpc.block_store");
        assert_eq!(hpa.spec.scale_target_ref.kind, "StatefulSet");
    }

    #[test]
    fn gateway_scales_on_cpu() {
        let vc = validated(API_NODE);
        let hpa = build_service_hpa(&vc, vc.service(ServiceKind::Jsonrpc).unwrap()).unwrap();
        let metric = &hpa.spec.metrics.as_ref().unwrap()[0];
        assert_eq!(metric.resource.as_ref().unwrap().name, "cpu");
        assert_eq!(hpa.spec.scale_target_ref.kind, "Deployment");
        assert_eq!(hpa.spec.min_replicas, Some(2));
        assert_eq!(hpa.spec.max_replicas, 8);
    }

    #[test]
    fn no_hpa_without_autoscaling() {
        let vc = validated(API_NODE);
        assert!(build_service_hpa(&vc, vc.service(ServiceKind::Mempool).unwrap()).is_none());
    }
}
