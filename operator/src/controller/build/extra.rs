//! `spec.extraServices`: each a Deployment `<cluster>-<name>` of the user's image, with the
//! Koinos services' broker URL, labels (so the broker's NetworkPolicy admits it), security
//! defaults and pod overrides; its queue-depth autoscaler (HPA or KEDA) and PDB come from the
//! same builders as the Koinos services'.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::hpa::{build_hpa, queue_depth_metric};
use super::keda::{ScaledObject, build_scaled_object};
use super::meta::selector_labels;
use super::security::{SERVICES_UID, container_security_context, pod_security_context};
use super::workload::{
    amqp_url_env, apply_pod_overrides, build_deployment, empty_dir, image_pull_secrets, mount,
    pod_name_env,
};
use crate::crd::autoscaling::AutoscalingProvider;
use crate::model::naming::RPC_QUEUE_ENV;
use crate::model::{ValidatedCluster, ValidatedExtraService};

/// Kind of an extra service's workload (no data of its own: a Deployment, like mempool).
pub const WORKLOAD_KIND: &str = "Deployment";

/// Replicas the Deployment asks for; `None` leaves them to the autoscaler.
pub fn extra_replicas(vc: &ValidatedCluster, extra: &ValidatedExtraService) -> Option<i32> {
    if vc.is_stopped() {
        Some(0)
    } else if extra.autoscaling.is_some() {
        None
    } else {
        Some(extra.replicas)
    }
}

/// The pod template: the user's image, command and args; `POD_NAME`, `KOINOS_AMQP_URL` (its
/// own broker user's Secret on a managed broker) and `KOINOS_RPC_QUEUE`, then `spec.podOverrides.env`
/// and the service's own env (which wins by name); the services' security defaults (non-root, read-only root
/// filesystem with a writable `/tmp`).
pub fn build_extra_pod_template(
    vc: &ValidatedCluster,
    extra: &ValidatedExtraService,
) -> PodTemplateSpec {
    let mut env = vec![
        pod_name_env(),
        amqp_url_env(vc, &extra.name),
        EnvVar {
            name: RPC_QUEUE_ENV.into(),
            value: Some(extra.queue.clone()),
            ..Default::default()
        },
    ];
    let mut volumes = vec![empty_dir("tmp")];
    let mut mounts = vec![mount("tmp", "/tmp", false)];
    super::amqp_ca::mount_into(vc, &mut volumes, &mut mounts, &mut env);
    // The service's own env wins over a cluster-wide variable of the same name.
    let own = |name: &str| extra.env.iter().any(|e| e.name == name);
    env.extend(extra.pod.env.iter().filter(|e| !own(&e.name)).cloned());
    env.extend(extra.env.iter().cloned());
    let container = Container {
        name: extra.name.clone(),
        image: Some(extra.image.clone()),
        image_pull_policy: Some(vc.image.pull_policy.as_str().into()),
        command: (!extra.command.is_empty()).then(|| extra.command.clone()),
        args: (!extra.args.is_empty()).then(|| extra.args.clone()),
        env: Some(env),
        volume_mounts: Some(mounts),
        resources: Some(extra.resources.clone()),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    let mut meta = ObjectMeta {
        labels: Some(selector_labels(vc, &extra.name)),
        ..Default::default()
    };
    let mut spec = PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        security_context: Some(pod_security_context(SERVICES_UID)),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        image_pull_secrets: image_pull_secrets(vc),
        ..Default::default()
    };
    apply_pod_overrides(&extra.pod, &mut meta, &mut spec);
    PodTemplateSpec {
        metadata: Some(meta),
        spec: Some(spec),
    }
}

/// The Deployment `<cluster>-<name>`.
pub fn build_extra_deployment(vc: &ValidatedCluster, extra: &ValidatedExtraService) -> Deployment {
    build_deployment(
        vc,
        &extra.name,
        extra_replicas(vc, extra),
        build_extra_pod_template(vc, extra),
    )
}

/// The HPA on the queue's depth (autoscaling on with provider `hpa`, the cluster running).
pub fn build_extra_hpa(
    vc: &ValidatedCluster,
    extra: &ValidatedExtraService,
) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = vc
        .running(extra.autoscaling.as_ref())
        .filter(|a| a.provider == AutoscalingProvider::Hpa)?;
    let metric = queue_depth_metric(vc, &extra.queue, autoscaling);
    Some(build_hpa(
        vc,
        &extra.name,
        WORKLOAD_KIND,
        metric,
        autoscaling,
    ))
}

/// KEDA's ScaledObject on the queue's depth (provider `keda`, the cluster running).
pub fn build_extra_scaled_object(
    vc: &ValidatedCluster,
    extra: &ValidatedExtraService,
) -> Option<ScaledObject> {
    let autoscaling = vc
        .running(extra.autoscaling.as_ref())
        .filter(|a| a.provider == AutoscalingProvider::Keda)?;
    Some(build_scaled_object(
        vc,
        &extra.name,
        WORKLOAD_KIND,
        &extra.queue,
        autoscaling,
    ))
}

#[cfg(test)]
#[path = "extra_tests.rs"]
mod tests;
