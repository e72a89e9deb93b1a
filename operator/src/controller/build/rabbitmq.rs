//! The managed broker: the administrator's Secret `<cluster>-amqp`, config, headless and client
//! Services, the StatefulSet, and the NetworkPolicy admitting AMQP only from the cluster's pods
//! and the management API only from the operator (which keeps the workloads' users through it,
//! [`super::broker_users`]).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapProjection, Container, ContainerPort, EnvVar, ExecAction, KeyToPath,
    Lifecycle, LifecycleHandler, PodSpec, PodTemplateSpec, Probe, ProjectedVolumeSource, Secret,
    SecretProjection, SecretVolumeSource, Service, ServicePort, ServiceSpec, TCPSocketAction,
    Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{
    ANNOTATION_CONFIG_HASH, APP_NAME, LABEL_GENERATED, LABEL_INSTANCE, LABEL_NAME, content_hash,
    object_meta, selector, selector_labels,
};
use super::pvc::{DATA_VOLUME, build_volume_claim_template, retention_policy};
use super::security::{RABBITMQ_UID, container_security_context, pod_security_context};
use super::workload::apply_pod_overrides;
use super::workload::image_pull_secrets;
use crate::model::naming::{
    AMQP_PASSWORD_KEY, AMQP_URL_KEY, AMQP_USERNAME_KEY, ERLANG_COOKIE_KEY, amqp_secret_name,
    child_name,
};
use crate::model::profile::AMQP_PORT;
use crate::model::{ManagedBroker, ValidatedCluster};

pub const COMPONENT: &str = "rabbitmq";
/// Largest message the broker accepts (docs/protocol.md "AMQP topology").
pub const MAX_MESSAGE_SIZE: u64 = 536_870_912;
const CREDENTIALS_CONF_KEY: &str = "20-credentials.conf";
const RABBITMQ_CONF_KEY: &str = "10-koinos.conf";
/// The plugins file (`RABBITMQ_ENABLED_PLUGINS_FILE`): Prometheus, and the management API the
/// operator provisions users through. Mounted apart from `conf.d`, which holds only config.
const ENABLED_PLUGINS_KEY: &str = "enabled_plugins";
const ENABLED_PLUGINS: &str = "[rabbitmq_prometheus,rabbitmq_management].\n";
const PLUGINS_DIR: &str = "/etc/rabbitmq/plugins";
/// The management API's port and the name of its container and Service port.
pub const MANAGEMENT_PORT: i32 = crate::broker::management::MANAGEMENT_PORT as i32;
pub const MANAGEMENT_PORT_NAME: &str = "management";
/// RabbitMQ's Prometheus endpoint (`rabbitmq_prometheus`, enabled in the official image and in
/// ours; `prometheus.tcp.port` in the config) and the name of its container port.
pub const PROMETHEUS_PORT: i32 = 15692;
pub const PROMETHEUS_PORT_NAME: &str = "prometheus";
const EPMD_PORT: i32 = 4369;
const DIST_PORT: i32 = 25672;
/// Cluster DNS domain used in RabbitMQ node names.
const CLUSTER_DOMAIN: &str = "cluster.local";
/// The init container's script: the cookie from the Secret into $HOME, mode 0400.
const COOKIE_INIT_SCRIPT: &str = "rm -f /var/lib/rabbitmq/.erlang.cookie && cp /cookie/.erlang.cookie /var/lib/rabbitmq/.erlang.cookie && chmod 0400 /var/lib/rabbitmq/.erlang.cookie";
/// How long each step of a node's shutdown may wait (`rabbitmq-upgrade ... -t`): the RPC
/// queues hold seconds of requests, so a mirror syncs well within it; when it has not (a peer
/// that does not come back), the node stops anyway and its queues wait for it on its volume.
pub const SHUTDOWN_STEP_SECONDS: i64 = 60;
/// The pod's grace period: the preStop hook's three steps, then RabbitMQ's own stop on SIGTERM
/// (it closes connections and writes its queues to disk), within one more step.
pub const TERMINATION_GRACE_SECONDS: i64 = 4 * SHUTDOWN_STEP_SECONDS;
const _: () = assert!(3 * SHUTDOWN_STEP_SECONDS < TERMINATION_GRACE_SECONDS);
/// Label of the operator's own pods (the chart sets it); they read queue depths and the head.
pub const OPERATOR_POD_LABEL: (&str, &str) = ("app.kubernetes.io/name", "koinos-operator");

/// Annotation on `<cluster>-amqp` that asks for a new administrator (any value; the operator
/// removes it once the Secret names the new one). See [`crate::broker::admin`].
pub const ROTATE_ANNOTATION: &str = "koinos.io/rotate";
/// Key of `<cluster>-amqp` naming the administrator a rotation replaced, until it is deleted.
pub const RETIRING_USERNAME_KEY: &str = "retiring-username";

/// Broker credentials, generated once by the apply step and read back from the Secret after.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpCredentials {
    pub username: String,
    pub password: String,
    pub erlang_cookie: String,
    /// The administrator before the last rotation, still in the broker until nothing uses it.
    pub retiring_username: Option<String>,
}

impl std::fmt::Debug for AmqpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

pub fn client_service_name(vc: &ValidatedCluster) -> String {
    child_name(vc, COMPONENT)
}
pub fn headless_service_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "rabbitmq-headless")
}

/// `amqp://user:password@<cluster>-rabbitmq.<namespace>.svc:5672/`: the managed broker's
/// in-cluster URL for one of its users (the administrator or a workload's).
pub fn client_url(vc: &ValidatedCluster, username: &str, password: &str) -> String {
    format!(
        "amqp://{username}:{password}@{}.{}.svc:{}/",
        client_service_name(vc),
        vc.namespace,
        AMQP_PORT.port
    )
}

pub fn build_amqp_secret(vc: &ValidatedCluster, credentials: &AmqpCredentials) -> Secret {
    let mut metadata = object_meta(vc, amqp_secret_name(vc), COMPONENT);
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_GENERATED.into(), "true".into());
    let conf = format!(
        "default_user = {}\ndefault_pass = {}\n",
        credentials.username, credentials.password
    );
    let data = [
        (AMQP_USERNAME_KEY, credentials.username.clone()),
        (AMQP_PASSWORD_KEY, credentials.password.clone()),
        (
            AMQP_URL_KEY,
            client_url(vc, &credentials.username, &credentials.password),
        ),
        (ERLANG_COOKIE_KEY, credentials.erlang_cookie.clone()),
        (CREDENTIALS_CONF_KEY, conf),
    ]
    .into_iter()
    .chain(
        credentials
            .retiring_username
            .clone()
            .map(|old| (RETIRING_USERNAME_KEY, old)),
    );
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(
            data.map(|(k, v)| (k.to_string(), ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Default::default()
    }
}

fn node_name(vc: &ValidatedCluster, ordinal: i32) -> String {
    format!(
        "rabbit@{}-{ordinal}.{}.{}.svc.{CLUSTER_DOMAIN}",
        child_name(vc, COMPONENT),
        headless_service_name(vc),
        vc.namespace
    )
}

/// `rabbitmq.conf` (no secrets: credentials come from the Secret's own conf file).
pub fn render_rabbitmq_conf(vc: &ValidatedCluster, broker: &ManagedBroker) -> String {
    let mut conf = format!(
        "listeners.tcp.default = {}\nmax_message_size = {MAX_MESSAGE_SIZE}\nprometheus.tcp.port = {PROMETHEUS_PORT}\n",
        AMQP_PORT.port
    );
    conf.push_str("cluster_formation.peer_discovery_backend = classic_config\n");
    for ordinal in 0..broker.replicas {
        conf.push_str(&format!(
            "cluster_formation.classic_config.nodes.{} = {}\n",
            ordinal + 1,
            node_name(vc, ordinal)
        ));
    }
    if broker.replicas > 1 {
        conf.push_str("cluster_partition_handling = pause_minority\n");
    }
    conf
}

pub fn build_rabbitmq_config_map(vc: &ValidatedCluster, broker: &ManagedBroker) -> ConfigMap {
    ConfigMap {
        metadata: object_meta(vc, child_name(vc, "rabbitmq-config"), COMPONENT),
        data: Some(BTreeMap::from([
            (
                RABBITMQ_CONF_KEY.to_string(),
                render_rabbitmq_conf(vc, broker),
            ),
            (ENABLED_PLUGINS_KEY.to_string(), ENABLED_PLUGINS.to_string()),
        ])),
        ..Default::default()
    }
}

fn port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port: number,
        target_port: Some(IntOrString::Int(number)),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

pub fn build_rabbitmq_client_service(vc: &ValidatedCluster) -> Service {
    Service {
        metadata: object_meta(vc, client_service_name(vc), COMPONENT),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels(vc, COMPONENT)),
            ports: Some(vec![
                port(AMQP_PORT.name, AMQP_PORT.port),
                port(PROMETHEUS_PORT_NAME, PROMETHEUS_PORT),
                port(MANAGEMENT_PORT_NAME, MANAGEMENT_PORT),
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Stable per-pod DNS names for clustering; published before readiness so nodes can meet.
pub fn build_rabbitmq_headless_service(vc: &ValidatedCluster) -> Service {
    Service {
        metadata: object_meta(vc, headless_service_name(vc), COMPONENT),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(vc, COMPONENT)),
            ports: Some(vec![
                port(AMQP_PORT.name, AMQP_PORT.port),
                port("epmd", EPMD_PORT),
                port("dist", DIST_PORT),
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn env(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        ..Default::default()
    }
}

/// Ready once the AMQP listener accepts connections; a drained node closes it and so leaves
/// the client Service before it stops. There is no liveness probe (as in RabbitMQ's cluster
/// operator): a restart cures no broker problem, and during a drain the listener is closed on
/// purpose, which a liveness probe would punish by killing the node mid-handover.
fn readiness_probe() -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(AMQP_PORT.name.into()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(10),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// The preStop hook of a node of a multi-node broker, RabbitMQ's cluster operator's: wait until
/// the quorum queues keep a quorum without this node and every mirrored classic queue (the RPC
/// queues, [`crate::broker::policy`]) has a synchronised mirror on another node, then drain
/// (maintenance mode: clients are disconnected and reconnect to the other nodes, queue leaders
/// move). A failed or timed-out wait still drains. A single node has no peer to hand over to:
/// its graceful stop on SIGTERM is the whole shutdown, so it gets no hook.
pub fn pre_stop_script(replicas: i32) -> Option<String> {
    (replicas > 1).then(|| {
        let t = SHUTDOWN_STEP_SECONDS;
        format!(
            "rabbitmq-upgrade await_online_quorum_plus_one -t {t} && \
             rabbitmq-upgrade await_online_synchronized_mirror -t {t} || true; \
             rabbitmq-upgrade drain -t {t}"
        )
    })
}

pub fn build_rabbitmq_statefulset(vc: &ValidatedCluster, broker: &ManagedBroker) -> StatefulSet {
    let name = child_name(vc, COMPONENT);
    let secret = amqp_secret_name(vc);
    let conf_volume = Volume {
        name: "conf".into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: child_name(vc, "rabbitmq-config"),
                        items: Some(vec![KeyToPath {
                            key: RABBITMQ_CONF_KEY.into(),
                            path: RABBITMQ_CONF_KEY.into(),
                            mode: None,
                        }]),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    secret: Some(SecretProjection {
                        name: secret.clone(),
                        items: Some(vec![KeyToPath {
                            key: CREDENTIALS_CONF_KEY.into(),
                            path: CREDENTIALS_CONF_KEY.into(),
                            mode: None,
                        }]),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            default_mode: Some(0o440),
        }),
        ..Default::default()
    };
    let plugins_volume = Volume {
        name: "plugins".into(),
        config_map: Some(k8s_openapi::api::core::v1::ConfigMapVolumeSource {
            name: child_name(vc, "rabbitmq-config"),
            items: Some(vec![KeyToPath {
                key: ENABLED_PLUGINS_KEY.into(),
                path: ENABLED_PLUGINS_KEY.into(),
                mode: None,
            }]),
            default_mode: Some(0o444),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cookie_volume = Volume {
        name: "erlang-cookie".into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret),
            items: Some(vec![KeyToPath {
                key: ERLANG_COOKIE_KEY.into(),
                path: ".erlang.cookie".into(),
                mode: None,
            }]),
            default_mode: Some(0o400),
            ..Default::default()
        }),
        ..Default::default()
    };
    let tmp = Volume {
        name: "tmp".into(),
        empty_dir: Some(Default::default()),
        ..Default::default()
    };
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    };
    // Erlang insists on a 0400 cookie owned by the user in $HOME (the data volume). A restart
    // finds last run's read-only copy there, which cp cannot open: remove it first.
    let init = Container {
        name: "erlang-cookie".into(),
        image: Some(broker.image.clone()),
        command: Some(vec!["sh".into(), "-c".into(), COOKIE_INIT_SCRIPT.into()]),
        volume_mounts: Some(vec![
            mount("erlang-cookie", "/cookie", true),
            mount(DATA_VOLUME, "/var/lib/rabbitmq", false),
        ]),
        security_context: Some(container_security_context()),
        resources: Some(broker.resources.clone()),
        ..Default::default()
    };
    let container = Container {
        name: COMPONENT.into(),
        image: Some(broker.image.clone()),
        env: Some(
            vec![
                EnvVar {
                    name: "POD_NAME".into(),
                    value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                        field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                            field_path: "metadata.name".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                env("RABBITMQ_USE_LONGNAME", "true".into()),
                env(
                    "RABBITMQ_NODENAME",
                    format!(
                        "rabbit@$(POD_NAME).{}.{}.svc.{CLUSTER_DOMAIN}",
                        headless_service_name(vc),
                        vc.namespace
                    ),
                ),
                env("RABBITMQ_CONFIG_FILES", "/etc/rabbitmq/conf.d".into()),
                env(
                    "RABBITMQ_ENABLED_PLUGINS_FILE",
                    format!("{PLUGINS_DIR}/{ENABLED_PLUGINS_KEY}"),
                ),
                env("RABBITMQ_LOGS", "-".into()),
            ]
            .into_iter()
            // `podOverrides.env` (validate rejects the names set above).
            .chain(broker.pod.env.iter().cloned())
            .collect(),
        ),
        ports: Some(vec![
            ContainerPort {
                name: Some(AMQP_PORT.name.into()),
                container_port: AMQP_PORT.port,
                ..Default::default()
            },
            ContainerPort {
                name: Some(PROMETHEUS_PORT_NAME.into()),
                container_port: PROMETHEUS_PORT,
                ..Default::default()
            },
            ContainerPort {
                name: Some(MANAGEMENT_PORT_NAME.into()),
                container_port: MANAGEMENT_PORT,
                ..Default::default()
            },
            ContainerPort {
                name: Some("epmd".into()),
                container_port: EPMD_PORT,
                ..Default::default()
            },
            ContainerPort {
                name: Some("dist".into()),
                container_port: DIST_PORT,
                ..Default::default()
            },
        ]),
        volume_mounts: Some(vec![
            mount(DATA_VOLUME, "/var/lib/rabbitmq", false),
            mount("conf", "/etc/rabbitmq/conf.d", true),
            mount("plugins", PLUGINS_DIR, true),
            mount("tmp", "/tmp", false),
        ]),
        resources: Some(broker.resources.clone()),
        security_context: Some(container_security_context()),
        readiness_probe: Some(readiness_probe()),
        lifecycle: pre_stop_script(broker.replicas).map(|script| Lifecycle {
            pre_stop: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(vec!["sh".into(), "-c".into(), script]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut meta = ObjectMeta {
        labels: Some(selector_labels(vc, COMPONENT)),
        annotations: Some(BTreeMap::from([(
            ANNOTATION_CONFIG_HASH.to_string(),
            content_hash(render_rabbitmq_conf(vc, broker).as_bytes()),
        )])),
        ..Default::default()
    };
    let mut spec = PodSpec {
        init_containers: Some(vec![init]),
        containers: vec![container],
        volumes: Some(vec![conf_volume, plugins_volume, cookie_volume, tmp]),
        security_context: Some(pod_security_context(RABBITMQ_UID)),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        // `spec.image.pullSecrets`: a private mirror of the broker image needs them too.
        image_pull_secrets: image_pull_secrets(vc),
        ..Default::default()
    };
    apply_pod_overrides(&broker.pod, &mut meta, &mut spec);
    StatefulSet {
        metadata: object_meta(vc, name, COMPONENT),
        spec: Some(StatefulSetSpec {
            replicas: Some(if vc.is_stopped() { 0 } else { broker.replicas }),
            selector: selector(vc, COMPONENT),
            service_name: Some(headless_service_name(vc)),
            // Nodes must start together to form a cluster. A template change still replaces one
            // pod at a time, each after the one before it is Ready again (RollingUpdate).
            pod_management_policy: Some("Parallel".into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(meta),
                spec: Some(spec),
            },
            volume_claim_templates: Some(vec![build_volume_claim_template(
                vc,
                COMPONENT,
                &broker.storage,
            )]),
            persistent_volume_claim_retention_policy: Some(retention_policy(&broker.storage)),
            revision_history_limit: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// AMQP only from this cluster's pods and the operator; the management API (users) only from
/// the operator; clustering only between broker nodes; Prometheus metrics from anywhere.
pub fn build_rabbitmq_network_policy(vc: &ValidatedCluster) -> NetworkPolicy {
    let tcp = |number: i32| NetworkPolicyPort {
        port: Some(IntOrString::Int(number)),
        protocol: Some("TCP".into()),
        ..Default::default()
    };
    let cluster_pods = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([
                (LABEL_NAME.to_string(), APP_NAME.to_string()),
                (LABEL_INSTANCE.to_string(), vc.name.clone()),
            ])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let operator_pods = NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                OPERATOR_POD_LABEL.0.to_string(),
                OPERATOR_POD_LABEL.1.to_string(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: object_meta(vc, child_name(vc, COMPONENT), COMPONENT),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(vc, COMPONENT)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![cluster_pods, operator_pods.clone()]),
                    ports: Some(vec![tcp(AMQP_PORT.port)]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![operator_pods]),
                    ports: Some(vec![tcp(MANAGEMENT_PORT)]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        pod_selector: Some(selector(vc, COMPONENT)),
                        ..Default::default()
                    }]),
                    ports: Some(vec![tcp(EPMD_PORT), tcp(DIST_PORT)]),
                },
                NetworkPolicyIngressRule {
                    from: None,
                    ports: Some(vec![tcp(PROMETHEUS_PORT)]),
                },
            ]),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests;
