//! One workload per enabled service, by class (docs/design.md "Service classes"): singletons and replicated
//! stores are StatefulSets, the in-memory consumer and gateways are Deployments. One generic
//! pod template serves every service; the profile supplies what varies.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, KeyToPath, LocalObjectReference, ObjectFieldSelector, PodSpec, PodTemplateSpec,
    Probe, SecretKeySelector, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::amqp_ca;
use super::config::{
    GENESIS_DIR, GENESIS_FILE, PRIVATE_KEY_FILE, SECRETS_DIR, config_hash, config_key,
};
use super::meta::{ANNOTATION_CONFIG_HASH, object_meta, selector, selector_labels};
use super::pvc::{DATA_VOLUME, build_volume_claim_template, retention_policy};
use super::security::{SERVICES_UID, container_security_context, pod_security_context};
use crate::crd::network::SecretKeyRef;
use crate::model::naming::{
    P2P_SEED_KEY, amqp_url_secret_of, child_name, config_map_name, genesis_source,
    p2p_identity_secret_name,
};
use crate::model::profile::{BASEDIR, METRICS_PORT, ServiceClass, ServiceInput};
use crate::model::{GenesisRef, ResolvedPod, ValidatedCluster, ValidatedService};

/// Env var the `--amqp` flag expands.
pub const AMQP_URL_ENV: &str = "KOINOS_AMQP_URL";
/// Env var with the p2p node identity seed (from the generated Secret).
pub const P2P_SEED_ENV: &str = "KOINOS_P2P_SEED";

/// A service's workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    StatefulSet(Box<StatefulSet>),
    Deployment(Box<Deployment>),
}

impl Workload {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StatefulSet(_) => "StatefulSet",
            Self::Deployment(_) => "Deployment",
        }
    }
}

/// Replicas the workload asks for; `None` leaves them to the HorizontalPodAutoscaler.
pub fn workload_replicas(vc: &ValidatedCluster, svc: &ValidatedService) -> Option<i32> {
    if vc.is_stopped() {
        Some(0)
    } else if svc.autoscaling.is_some() {
        None
    } else if svc.is_singleton() {
        Some(svc.replicas.min(1))
    } else {
        Some(svc.replicas)
    }
}

/// The env var carrying the broker URL of the workload `user` (a component, an extra
/// service's name): its own user's generated Secret, or the user's Secret of an external broker.
pub fn amqp_url_env(vc: &ValidatedCluster, user: &str) -> EnvVar {
    let SecretKeyRef { name, key } = amqp_url_secret_of(vc, user);
    secret_env(AMQP_URL_ENV, name, key)
}

fn secret_env(var: &str, name: String, key: String) -> EnvVar {
    EnvVar {
        name: var.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name,
                key,
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `POD_NAME`, from the pod's name (the services' `--instance-id`).
pub fn pod_name_env() -> EnvVar {
    EnvVar {
        name: "POD_NAME".into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.name".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    }
}

pub fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn http_probe(path: &str, initial_delay: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(METRICS_PORT.name.into()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        timeout_seconds: Some(3),
        failure_threshold: Some(failure_threshold),
        ..Default::default()
    }
}

/// `spec.image.pullSecrets`, for every pod the operator makes.
pub fn image_pull_secrets(vc: &ValidatedCluster) -> Option<Vec<LocalObjectReference>> {
    (!vc.image.pull_secrets.is_empty()).then(|| {
        vc.image
            .pull_secrets
            .iter()
            .map(|name| LocalObjectReference { name: name.clone() })
            .collect()
    })
}

/// Scheduling and metadata overrides applied to a pod spec / template metadata.
pub fn apply_pod_overrides(pod: &ResolvedPod, meta: &mut ObjectMeta, spec: &mut PodSpec) {
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    for (key, value) in &pod.labels {
        // Selector labels stay the operator's: the selector must keep matching.
        labels.entry(key.clone()).or_insert_with(|| value.clone());
    }
    if !pod.annotations.is_empty() {
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(pod.annotations.clone());
    }
    spec.node_selector = (!pod.node_selector.is_empty()).then(|| pod.node_selector.clone());
    spec.tolerations = (!pod.tolerations.is_empty()).then(|| pod.tolerations.clone());
    spec.affinity = pod.affinity.clone();
    spec.topology_spread_constraints = (!pod.topology_spread_constraints.is_empty())
        .then(|| pod.topology_spread_constraints.clone());
    spec.priority_class_name = pod.priority_class_name.clone();
    if let Some(account) = &pod.service_account_name {
        spec.service_account_name = Some(account.clone());
    }
}

/// The pod template of a Koinos service.
pub fn build_service_pod_template(
    vc: &ValidatedCluster,
    svc: &ValidatedService,
) -> PodTemplateSpec {
    let profile = svc.profile;
    let mut env = vec![pod_name_env(), amqp_url_env(vc, profile.component)];
    let mut args = profile.args();
    let mut volumes = vec![
        empty_dir("basedir"),
        empty_dir("tmp"),
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map_name(vc),
                items: Some(vec![KeyToPath {
                    key: config_key(svc),
                    path: "config.yml".into(),
                    mode: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let mut mounts = vec![
        mount("basedir", BASEDIR, false),
        mount("tmp", "/tmp", false),
        VolumeMount {
            name: "config".into(),
            mount_path: format!("{BASEDIR}/config.yml"),
            sub_path: Some("config.yml".into()),
            read_only: Some(true),
            ..Default::default()
        },
    ];
    if let Some(dir) = profile.data_dir() {
        mounts.push(mount(DATA_VOLUME, &dir, false));
    }
    match profile.input {
        Some(ServiceInput::Genesis) => {
            let GenesisRef { config_map, key } = genesis_source(vc);
            volumes.push(Volume {
                name: "genesis".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config_map,
                    items: Some(vec![KeyToPath {
                        key,
                        path: GENESIS_FILE.into(),
                        mode: None,
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            });
            mounts.push(mount("genesis", GENESIS_DIR, true));
        }
        Some(ServiceInput::ProducerKey) => {
            let key = svc
                .private_key
                .clone()
                .expect("validate resolves the producer key");
            volumes.push(Volume {
                name: "producer-key".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(key.name),
                    items: Some(vec![KeyToPath {
                        key: key.key,
                        path: PRIVATE_KEY_FILE.into(),
                        mode: Some(0o400),
                    }]),
                    default_mode: Some(0o400),
                    ..Default::default()
                }),
                ..Default::default()
            });
            mounts.push(mount("producer-key", SECRETS_DIR, true));
        }
        Some(ServiceInput::NodeSeed) => {
            env.push(secret_env(
                P2P_SEED_ENV,
                p2p_identity_secret_name(vc),
                P2P_SEED_KEY.into(),
            ));
            args.push(format!("--seed=$({P2P_SEED_ENV})"));
        }
        None => {}
    }
    amqp_ca::mount_into(vc, &mut volumes, &mut mounts, &mut env);
    env.extend(svc.pod.env.iter().cloned());
    let ports = profile
        .ports
        .iter()
        .chain(std::iter::once(&METRICS_PORT))
        .map(|p| ContainerPort {
            name: Some(p.name.into()),
            container_port: p.port,
            protocol: Some("TCP".into()),
            ..Default::default()
        })
        .collect();
    // The services image holds every binary; another image (e.g. an official one) runs its own
    // entrypoint with the same flags.
    let command = svc.services_image.then(|| vec![profile.binary.to_string()]);
    let container = Container {
        name: profile.component.into(),
        image: Some(svc.image.clone()),
        image_pull_policy: Some(vc.image.pull_policy.as_str().into()),
        command,
        args: Some(args),
        env: Some(env),
        ports: Some(ports),
        volume_mounts: Some(mounts),
        resources: Some(svc.resources.clone()),
        security_context: Some(container_security_context()),
        readiness_probe: svc.health_probes.then(|| http_probe("/readyz", 5, 3)),
        liveness_probe: svc.health_probes.then(|| http_probe("/healthz", 30, 6)),
        ..Default::default()
    };
    let mut meta = ObjectMeta {
        labels: Some(selector_labels(vc, profile.component)),
        annotations: Some(BTreeMap::from([(
            ANNOTATION_CONFIG_HASH.to_string(),
            config_hash(vc, svc),
        )])),
        ..Default::default()
    };
    let mut spec = PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        security_context: Some(pod_security_context(SERVICES_UID)),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(if svc.is_singleton() { 60 } else { 30 }),
        image_pull_secrets: image_pull_secrets(vc),
        ..Default::default()
    };
    apply_pod_overrides(&svc.pod, &mut meta, &mut spec);
    PodTemplateSpec {
        metadata: Some(meta),
        spec: Some(spec),
    }
}

/// The workload of a service, by class.
pub fn build_service_workload(vc: &ValidatedCluster, svc: &ValidatedService) -> Workload {
    match svc.profile.class {
        ServiceClass::Singleton | ServiceClass::ReplicatedStore => {
            Workload::StatefulSet(Box::new(build_service_statefulset(vc, svc)))
        }
        ServiceClass::InMemoryConsumer | ServiceClass::Gateway => {
            Workload::Deployment(Box::new(build_service_deployment(vc, svc)))
        }
    }
}

pub fn build_service_statefulset(vc: &ValidatedCluster, svc: &ValidatedService) -> StatefulSet {
    let component = svc.profile.component;
    let singleton = svc.is_singleton();
    StatefulSet {
        metadata: object_meta(vc, child_name(vc, component), component),
        spec: Some(StatefulSetSpec {
            replicas: workload_replicas(vc, svc),
            selector: selector(vc, component),
            service_name: Some(child_name(vc, component)),
            // A singleton rolls by deleting its one pod before starting the next: never two.
            pod_management_policy: Some(
                if singleton {
                    "OrderedReady"
                } else {
                    "Parallel"
                }
                .into(),
            ),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..Default::default()
            }),
            template: build_service_pod_template(vc, svc),
            volume_claim_templates: svc
                .storage
                .as_ref()
                .map(|storage| vec![build_volume_claim_template(vc, component, storage)]),
            persistent_volume_claim_retention_policy: svc.storage.as_ref().map(retention_policy),
            revision_history_limit: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn build_service_deployment(vc: &ValidatedCluster, svc: &ValidatedService) -> Deployment {
    build_deployment(
        vc,
        svc.profile.component,
        workload_replicas(vc, svc),
        build_service_pod_template(vc, svc),
    )
}

/// The Deployment `<cluster>-<component>` running `template` (a Koinos service's or an extra
/// service's pods); `replicas` `None` leaves them to the autoscaler.
pub fn build_deployment(
    vc: &ValidatedCluster,
    component: &str,
    replicas: Option<i32>,
    template: PodTemplateSpec,
) -> Deployment {
    Deployment {
        metadata: object_meta(vc, child_name(vc, component), component),
        spec: Some(DeploymentSpec {
            replicas,
            selector: selector(vc, component),
            // Surge one new pod before retiring an old one: capacity never dips.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template,
            revision_history_limit: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
