//! `&KoinosCluster -> ValidatedCluster`: every default resolved, every rule checked (pure).
//! The CRD's CEL rules catch most mistakes at admission; this step repeats them (objects may
//! predate a rule, or come from `render`) and adds the checks CEL cannot express.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

use super::cluster::*;
use super::naming::{
    AMQP_USER_ANNOTATION, CONFIG_HASH_ANNOTATION, OPERATOR_ENV, PRODUCER_KEY_SECRET_KEY,
    SELECTOR_LABEL_KEYS, producer_key_secret_name,
};
use super::network::Preset;
use super::profile::{ScaleSignal, ServiceClass, ServiceInput, ServiceKind, ServiceProfile};
use crate::crd::KoinosCluster;
use crate::crd::autoscaling::{
    AutoscalingProvider, AutoscalingSpec, DEFAULT_TARGET_CPU, DEFAULT_TARGET_QUEUE_DEPTH,
};
use crate::crd::monitoring::MonitoringSpec;
use crate::crd::network::{
    ConfigMapKeyRef, DevnetConsensusKind, DevnetTokenKind, NetworkSpec, PresetNetworkSpec,
    SecretKeyRef,
};
use crate::crd::pod::PodOverrides;
use crate::crd::service::{ServiceSpec, ServicesSpec};
use crate::crd::storage::StorageSpec;

/// Longest cluster name: children append up to `-contract-meta-store` and StatefulSet pod
/// names must leave room for the controller-revision-hash label (63 characters).
pub const MAX_CLUSTER_NAME: usize = 32;

/// Config keys the operator sets itself (flags, mounts, ports, Secrets).
const OPERATOR_OWNED_KEYS: &[&str] = &[
    "amqp",
    "amqp-ca-file",
    "metrics-address",
    "basedir",
    "instance-id",
    "private-key-file",
    "genesis-data",
    "statedir",
    "listen",
    "endpoint",
    "seed",
];

/// A field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every problem found in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidSpec(pub Vec<FieldError>);

impl fmt::Display for InvalidSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<_> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for InvalidSpec {}

struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Validate a KoinosCluster; `default_namespace` names objects read from a file without one.
pub fn validate(
    cluster: &KoinosCluster,
    default_namespace: &str,
) -> Result<ValidatedCluster, InvalidSpec> {
    let mut check = Checker { errors: Vec::new() };
    let spec = &cluster.spec;
    let name = cluster.name_any();
    if name.is_empty() {
        check.fail("metadata.name", "must be set");
    } else if name.len() > MAX_CLUSTER_NAME {
        check.fail(
            "metadata.name",
            format!("at most {MAX_CLUSTER_NAME} characters: child names append up to `-contract-meta-store`"),
        );
    }

    let network = validate_network(&mut check, &spec.network);
    let preset = network.preset();

    let cluster_pod = spec.pod_overrides.clone().unwrap_or_default();
    check_pod_overrides(&mut check, "spec.podOverrides", &cluster_pod);
    let amqp = validate_amqp(&mut check, cluster, &cluster_pod);
    validate_config(&mut check, &spec.config);
    let pod_monitor = validate_monitoring(&mut check, spec.monitoring.as_ref());

    let services_image = format!("{}:{}", spec.image.repository, spec.image.tag);
    let mut services = Vec::new();
    for kind in ServiceKind::ALL {
        let profile = kind.profile();
        let given = service_spec(&spec.services, kind);
        let default = ServiceSpec::default();
        let svc = given.unwrap_or(&default);
        let devnet = network.is_devnet();
        // A devnet produces its own blocks and has no peers: producer on, p2p off.
        let enabled = svc.enabled.unwrap_or(match kind {
            ServiceKind::BlockProducer => devnet,
            ServiceKind::P2p => !devnet,
            _ => profile.enabled_by_default,
        });
        let field = format!("spec.services.{}", profile.spec_name);
        check_class_fields(&mut check, &field, profile, svc);
        let announce = exposure::check_exposure(&mut check, &field, profile, svc);
        if !enabled {
            continue;
        }
        let replicas = svc.replicas.unwrap_or(1);
        let autoscaling =
            checked_autoscaling(&mut check, &field, svc.autoscaling.as_ref(), replicas);
        let storage = profile.default_storage.map(|default_size| {
            resolve_storage(
                &mut check,
                &format!("{field}.storage"),
                svc.storage.as_ref(),
                default_size,
            )
        });
        let image = match &svc.image {
            Some(image) if image.trim().is_empty() => {
                check.fail(format!("{field}.image"), "must not be empty");
                String::new()
            }
            Some(image) => image.clone(),
            None => preset
                .and_then(|p| p.official_image(kind))
                .map_or_else(|| services_image.clone(), str::to_string),
        };
        let ours = image == services_image;
        let private_key = if profile.input == Some(ServiceInput::ProducerKey) {
            match (&svc.private_key_secret_ref, devnet) {
                (Some(key), _) => Some(key.clone()),
                (None, true) => Some(SecretKeyRef {
                    name: producer_key_secret_name(&name),
                    key: PRODUCER_KEY_SECRET_KEY.into(),
                }),
                (None, false) => {
                    check.fail(
                        format!("{field}.privateKeySecretRef"),
                        "required to produce blocks outside a devnet",
                    );
                    None
                }
            }
        } else {
            None
        };
        let pod = resolve_pod(&mut check, &field, &cluster_pod, svc.pod_overrides.as_ref());
        services.push(ValidatedService {
            profile,
            replicas,
            image,
            services_image: ours,
            storage,
            autoscaling,
            exposure: svc.service.clone().unwrap_or_default(),
            ingress: svc.ingress.clone(),
            route: svc.route.clone(),
            announce,
            resources: svc
                .resources
                .clone()
                .unwrap_or_else(|| default_resources(profile.default_requests)),
            pod,
            // Only our binaries serve /healthz and /readyz on the metrics port.
            health_probes: svc.health_probes.unwrap_or(ours),
            private_key,
            // A preset's official seed nodes unless the user lists peers.
            seeds: match (svc.seeds.is_empty(), preset) {
                (true, Some(preset)) => preset.data().seeds.iter().map(|s| s.to_string()).collect(),
                _ => svc.seeds.clone(),
            },
        });
    }

    let extra_services =
        extra::validate_extra_services(&mut check, &spec.extra_services, &cluster_pod);

    if !check.errors.is_empty() {
        return Err(InvalidSpec(check.errors));
    }
    Ok(ValidatedCluster {
        namespace: cluster
            .namespace()
            .unwrap_or_else(|| default_namespace.to_string()),
        uid: cluster.uid(),
        generation: cluster.metadata.generation,
        name,
        image: spec.image.clone(),
        operation: spec.cluster_operation.clone(),
        network,
        amqp,
        config: spec.config.clone(),
        services,
        extra_services,
        pod_monitor,
        devnet_producer: None,
    })
}

/// `spec.monitoring.podMonitor`: the settings when enabled; labels must be valid Kubernetes
/// labels and not the operator's own (CEL checks the latter and the interval at admission).
fn validate_monitoring(
    check: &mut Checker,
    monitoring: Option<&MonitoringSpec>,
) -> Option<PodMonitorSettings> {
    let spec = monitoring?.pod_monitor.as_ref()?;
    let field = "spec.monitoring.podMonitor";
    for (key, value) in &spec.labels {
        if SELECTOR_LABEL_KEYS.contains(&key.as_str())
            || OWNERSHIP_LABEL_KEYS.contains(&key.as_str())
        {
            check.fail(
                format!("{field}.labels.{key}"),
                "marks the operator's children: the operator sets it",
            );
        } else if !is_label_key(key) {
            check.fail(
                format!("{field}.labels.{key}"),
                "not a valid label key (an optional DNS-subdomain prefix and `/`, then up to 63 alphanumerics, `-`, `_`, `.`)",
            );
        } else if !is_label_value(value) {
            check.fail(
                format!("{field}.labels.{key}"),
                format!("{value:?} is not a valid label value (up to 63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric)"),
            );
        }
    }
    if !is_prometheus_duration(&spec.interval) {
        check.fail(
            format!("{field}.interval"),
            format!(
                "{:?} is not a Prometheus duration such as 30s, 1m or 1m30s (not zero)",
                spec.interval
            ),
        );
    }
    spec.enabled.then(|| PodMonitorSettings {
        labels: spec.labels.clone(),
        interval: spec.interval.clone(),
    })
}

/// Label keys the operator sets on its children besides the selector labels.
const OWNERSHIP_LABEL_KEYS: &[&str] =
    &["app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"];

/// A label value: empty, or up to 63 alphanumerics, `-`, `_`, `.`, alphanumeric at both ends.
pub fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    value.is_empty()
        || (bytes.len() <= 63
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain, the name a non-empty label value.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    !name.is_empty() && is_label_value(name) && prefix.is_none_or(is_dns_subdomain)
}

/// A DNS subdomain (RFC 1123): dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A DNS label (RFC 1123): 1–63 lowercase alphanumerics or `-`, alphanumeric at both ends.
fn is_dns_label(part: &str) -> bool {
    let b = part.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// A Prometheus duration (`1y2w3d4h5m6s7ms`, each unit at most once, in that order), not zero.
pub fn is_prometheus_duration(text: &str) -> bool {
    const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    let mut rest = text;
    let mut next_unit = 0;
    let mut nonzero = false;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        let (number, tail) = rest.split_at(digits);
        nonzero |= number.bytes().any(|b| b != b'0');
        // `ms` before `m`: the longer unit first.
        let Some(unit) = (next_unit..UNITS.len())
            .filter(|&u| tail.starts_with(UNITS[u]))
            .max_by_key(|&u| UNITS[u].len())
        else {
            return false;
        };
        rest = &tail[UNITS[unit].len()..];
        next_unit = unit + 1;
    }
    nonzero
}

/// `spec.network`: exactly one of the four kinds.
fn validate_network(check: &mut Checker, network: &NetworkSpec) -> Network {
    let genesis_ref = |check: &mut Checker, field: &str, r: &ConfigMapKeyRef| {
        if r.name.is_empty() {
            check.fail(format!("{field}.name"), "must not be empty");
        }
        GenesisRef {
            config_map: r.name.clone(),
            key: r.key.clone(),
        }
    };
    let preset = |check: &mut Checker, preset: Preset, spec: &PresetNetworkSpec| {
        let field = format!("spec.network.{preset}.genesisConfigMapRef");
        Network::Preset {
            preset,
            genesis: spec
                .genesis_config_map_ref
                .as_ref()
                .map(|r| genesis_ref(check, &field, r)),
        }
    };
    match (
        &network.genesis,
        &network.devnet,
        &network.mainnet,
        &network.harbinger,
    ) {
        (Some(genesis), None, None, None) => {
            let r = genesis_ref(
                check,
                "spec.network.genesis.configMapRef",
                &genesis.config_map_ref,
            );
            Network::Genesis {
                config_map: r.config_map,
                key: r.key,
            }
        }
        (None, Some(devnet), None, None) => Network::Devnet {
            token: match devnet.token {
                DevnetTokenKind::Wasm => DevnetToken::Wasm,
                DevnetTokenKind::Native => DevnetToken::Native,
            },
            consensus: match devnet.consensus {
                DevnetConsensusKind::Federated => DevnetConsensus::Federated,
                DevnetConsensusKind::Pob => DevnetConsensus::Pob,
            },
        },
        (None, None, Some(spec), None) => preset(check, Preset::Mainnet, spec),
        (None, None, None, Some(spec)) => preset(check, Preset::Harbinger, spec),
        _ => {
            check.fail(
                "spec.network",
                "set exactly one of mainnet, harbinger, genesis or devnet",
            );
            Network::Devnet {
                token: DevnetToken::default(),
                consensus: DevnetConsensus::default(),
            }
        }
    }
}

fn service_spec(services: &ServicesSpec, kind: ServiceKind) -> Option<&ServiceSpec> {
    match kind {
        ServiceKind::Chain => services.chain.as_deref(),
        ServiceKind::BlockStore => services.block_store.as_deref(),
        ServiceKind::Mempool => services.mempool.as_deref(),
        ServiceKind::TransactionStore => services.transaction_store.as_deref(),
        ServiceKind::ContractMetaStore => services.contract_meta_store.as_deref(),
        ServiceKind::AccountHistory => services.account_history.as_deref(),
        ServiceKind::BlockProducer => services.block_producer.as_deref(),
        ServiceKind::Jsonrpc => services.jsonrpc.as_deref(),
        ServiceKind::Grpc => services.grpc.as_deref(),
        ServiceKind::P2p => services.p2p.as_deref(),
    }
}

/// Fields a service's class forbids.
fn check_class_fields(
    check: &mut Checker,
    field: &str,
    profile: &ServiceProfile,
    svc: &ServiceSpec,
) {
    if profile.class == ServiceClass::Singleton {
        if svc.replicas.is_some_and(|r| r > 1) {
            check.fail(
                format!("{field}.replicas"),
                format!("{} is a singleton: at most 1 replica", profile.spec_name),
            );
        }
        if svc.autoscaling.as_ref().is_some_and(|a| a.enabled) {
            check.fail(
                format!("{field}.autoscaling"),
                format!("{} is a singleton and cannot autoscale", profile.spec_name),
            );
        }
    }
    let keda = svc
        .autoscaling
        .as_ref()
        .is_some_and(|a| a.enabled && a.provider == AutoscalingProvider::Keda);
    if keda && profile.scale_signal == Some(ScaleSignal::Cpu) {
        check.fail(
            format!("{field}.autoscaling.provider"),
            format!(
                "keda scales on RPC queue depth; {} scales on CPU: use provider hpa",
                profile.spec_name
            ),
        );
    }
    if profile.default_storage.is_none() && svc.storage.is_some() {
        check.fail(
            format!("{field}.storage"),
            format!("{} keeps no data on disk", profile.spec_name),
        );
    }
    if profile.kind != ServiceKind::BlockProducer && svc.private_key_secret_ref.is_some() {
        check.fail(
            format!("{field}.privateKeySecretRef"),
            "only blockProducer takes a private key",
        );
    }
    if profile.kind != ServiceKind::P2p && !svc.seeds.is_empty() {
        check.fail(format!("{field}.seeds"), "only p2p takes seeds");
    }
    if profile.main_port().is_none() && svc.service.is_some() {
        check.fail(
            format!("{field}.service"),
            format!(
                "{} serves no client port (its Service is headless, for metrics)",
                profile.spec_name
            ),
        );
    }
    // Each autoscaled class has one target; the other would be ignored.
    if let Some(a) = &svc.autoscaling {
        match profile.scale_signal {
            Some(ScaleSignal::QueueDepth) if a.target_cpu_utilization_percentage.is_some() => check
                .fail(
                    format!("{field}.autoscaling.targetCpuUtilizationPercentage"),
                    format!(
                        "{} scales on RPC queue depth: use targetQueueDepth",
                        profile.spec_name
                    ),
                ),
            Some(ScaleSignal::Cpu) if a.target_queue_depth.is_some() => check.fail(
                format!("{field}.autoscaling.targetQueueDepth"),
                format!(
                    "{} scales on CPU: use targetCpuUtilizationPercentage",
                    profile.spec_name
                ),
            ),
            _ => {}
        }
    }
    if let Some(pod) = &svc.pod_overrides {
        check_pod_overrides(check, &format!("{field}.podOverrides"), pod);
    }
}

/// What `podOverrides` cannot set: the operator's selector labels, its config-hash and
/// broker-user annotations and the environment variables it sets (they would be silently lost, or break the pods).
fn check_pod_overrides(check: &mut Checker, field: &str, pod: &PodOverrides) {
    for key in pod.labels.keys() {
        if SELECTOR_LABEL_KEYS.contains(&key.as_str()) {
            check.fail(
                format!("{field}.labels.{key}"),
                "selects the pods: the operator sets it",
            );
        }
    }
    if pod.annotations.contains_key(CONFIG_HASH_ANNOTATION) {
        check.fail(
            format!("{field}.annotations.{CONFIG_HASH_ANNOTATION}"),
            "rolls the pods when their config changes: the operator sets it",
        );
    }
    if pod.annotations.contains_key(AMQP_USER_ANNOTATION) {
        check.fail(
            format!("{field}.annotations.{AMQP_USER_ANNOTATION}"),
            "rolls the pods onto a new broker user: the operator sets it",
        );
    }
    for var in pod.env.iter().flatten() {
        if OPERATOR_ENV.contains(&var.name.as_str()) {
            check.fail(format!("{field}.env.{}", var.name), "set by the operator");
        }
    }
}

/// The autoscaler of a service (ours or an extra one) when enabled, its minimum checked
/// against its maximum.
fn checked_autoscaling(
    check: &mut Checker,
    field: &str,
    given: Option<&AutoscalingSpec>,
    replicas: i32,
) -> Option<Autoscaling> {
    let autoscaling = given
        .filter(|a| a.enabled)
        .map(|a| resolve_autoscaling(a, replicas));
    if let Some(a) = &autoscaling
        && a.min_replicas > a.max_replicas
    {
        check.fail(
            format!("{field}.autoscaling.minReplicas"),
            format!(
                "{} exceeds autoscaling.maxReplicas {}",
                a.min_replicas, a.max_replicas
            ),
        );
    }
    autoscaling
}

fn resolve_autoscaling(a: &AutoscalingSpec, replicas: i32) -> Autoscaling {
    Autoscaling {
        provider: a.provider,
        min_replicas: a.min_replicas.unwrap_or(replicas.max(1)),
        max_replicas: a.max_replicas,
        target_queue_depth: a.target_queue_depth.unwrap_or(DEFAULT_TARGET_QUEUE_DEPTH),
        target_cpu_utilization_percentage: a
            .target_cpu_utilization_percentage
            .unwrap_or(DEFAULT_TARGET_CPU),
        scale_down_stabilization_seconds: a.scale_down_stabilization_seconds,
    }
}

fn resolve_storage(
    check: &mut Checker,
    field: &str,
    given: Option<&StorageSpec>,
    default_size: &str,
) -> Storage {
    let given = given.cloned().unwrap_or_default();
    let size = given.size.unwrap_or_else(|| default_size.to_string());
    if !is_quantity(&size) {
        check.fail(
            format!("{field}.size"),
            format!("{size:?} is not a quantity such as 100Gi"),
        );
    }
    Storage {
        size,
        storage_class_name: given.storage_class_name,
        retention: given.retention_policy,
        data_source: storage::resolve_data_source(
            check,
            &format!("{field}.dataSource"),
            given.data_source.as_ref(),
        ),
    }
}

/// A Kubernetes quantity: a decimal number with an optional binary or decimal suffix.
pub fn is_quantity(text: &str) -> bool {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    !number.is_empty()
        && number.parse::<f64>().is_ok()
        && [
            "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", "m",
        ]
        .contains(&suffix)
}

fn default_resources((cpu, memory): (&str, &str)) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(memory.into())),
        ])),
        ..Default::default()
    }
}

fn validate_amqp(check: &mut Checker, cluster: &KoinosCluster, cluster_pod: &PodOverrides) -> Amqp {
    let amqp = &cluster.spec.amqp;
    match (&amqp.managed, &amqp.external) {
        (Some(managed), None) => {
            if managed.replicas < 1 {
                check.fail("spec.amqp.managed.replicas", "must be at least 1");
            }
            if let Some(pod) = &managed.pod_overrides {
                check_pod_overrides(check, "spec.amqp.managed.podOverrides", pod);
            }
            Amqp::Managed(Box::new(ManagedBroker {
                replicas: managed.replicas,
                image: managed.image.clone(),
                storage: resolve_storage(
                    check,
                    "spec.amqp.managed.storage",
                    managed.storage.as_ref(),
                    "8Gi",
                ),
                resources: managed
                    .resources
                    .clone()
                    .unwrap_or_else(|| default_resources(("250m", "512Mi"))),
                pod: resolve_pod(
                    check,
                    "spec.amqp.managed",
                    cluster_pod,
                    managed.pod_overrides.as_ref(),
                ),
            }))
        }
        (None, Some(external)) => {
            let r = &external.url_secret_ref;
            if r.name.is_empty() || r.key.is_empty() {
                check.fail(
                    "spec.amqp.external.urlSecretRef",
                    "name and key must be set",
                );
            }
            let ca_secret = external.tls.as_ref().map(|tls| tls.ca_secret_ref.clone());
            if ca_secret
                .as_ref()
                .is_some_and(|ca| ca.name.is_empty() || ca.key.is_empty())
            {
                check.fail(
                    "spec.amqp.external.tls.caSecretRef",
                    "name and key must be set",
                );
            }
            Amqp::External {
                url_secret: r.clone(),
                ca_secret,
            }
        }
        _ => {
            check.fail("spec.amqp", "set exactly one of managed or external");
            Amqp::External {
                url_secret: SecretKeyRef::default(),
                ca_secret: None,
            }
        }
    }
}

fn validate_config(
    check: &mut Checker,
    config: &BTreeMap<String, BTreeMap<String, serde_json::Value>>,
) {
    for (section, values) in config {
        let known = section == "global"
            || ServiceKind::ALL
                .iter()
                .any(|k| k.profile().section == section);
        if !known {
            check.fail(
                format!("spec.config.{section}"),
                "unknown section: use global or a service section (chain, block_store, mempool, ...)",
            );
        }
        for key in values.keys() {
            if OPERATOR_OWNED_KEYS.contains(&key.as_str()) {
                check.fail(
                    format!("spec.config.{section}.{key}"),
                    "set by the operator and cannot be overridden",
                );
            }
        }
    }
}

/// Service overrides win: maps merge (service keys win), scalars and lists replace.
fn resolve_pod(
    check: &mut Checker,
    field: &str,
    cluster: &PodOverrides,
    service: Option<&PodOverrides>,
) -> ResolvedPod {
    let empty = PodOverrides::default();
    let service = service.unwrap_or(&empty);
    let merged = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
        let mut out = a.clone();
        out.extend(b.clone());
        out
    };
    let affinity_field = if service.affinity.is_some() {
        format!("{field}.podOverrides.affinity")
    } else {
        "spec.podOverrides.affinity".into()
    };
    let affinity = service
        .affinity
        .as_ref()
        .or(cluster.affinity.as_ref())
        .and_then(|value| {
            serde_json::from_value::<Affinity>(value.clone())
                .map_err(|e| check.fail(&affinity_field, format!("not a core/v1 Affinity: {e}")))
                .ok()
        });
    let spread_field = if service.topology_spread_constraints.is_some() {
        format!("{field}.podOverrides.topologySpreadConstraints")
    } else {
        "spec.podOverrides.topologySpreadConstraints".into()
    };
    let topology_spread_constraints = service
        .topology_spread_constraints
        .as_ref()
        .or(cluster.topology_spread_constraints.as_ref())
        .map(|values| {
            serde_json::from_value::<Vec<TopologySpreadConstraint>>(serde_json::Value::Array(
                values.clone(),
            ))
            .map_err(|e| {
                check.fail(
                    &spread_field,
                    format!("not a list of TopologySpreadConstraint: {e}"),
                )
            })
            .unwrap_or_default()
        })
        .unwrap_or_default();
    ResolvedPod {
        labels: merged(&cluster.labels, &service.labels),
        annotations: merged(&cluster.annotations, &service.annotations),
        node_selector: merged(&cluster.node_selector, &service.node_selector),
        tolerations: service
            .tolerations
            .clone()
            .or_else(|| cluster.tolerations.clone())
            .unwrap_or_default(),
        affinity,
        topology_spread_constraints,
        priority_class_name: service
            .priority_class_name
            .clone()
            .or_else(|| cluster.priority_class_name.clone()),
        service_account_name: service
            .service_account_name
            .clone()
            .or_else(|| cluster.service_account_name.clone()),
        env: service
            .env
            .clone()
            .or_else(|| cluster.env.clone())
            .unwrap_or_default(),
    }
}

mod exposure;
mod extra;
mod storage;

pub use self::extra::is_builtin_queue;

#[cfg(test)]
mod tests;
