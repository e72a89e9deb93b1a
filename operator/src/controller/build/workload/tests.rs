use super::*;
use crate::model::ServiceKind;
use crate::test_support::{API_NODE, DEVNET, validated};

fn service(vc: &ValidatedCluster, kind: ServiceKind) -> &ValidatedService {
    vc.service(kind).unwrap()
}

fn container(template: &PodTemplateSpec) -> &Container {
    &template.spec.as_ref().unwrap().containers[0]
}

#[test]
fn chain_statefulset_snapshot() {
    let vc = validated(DEVNET);
    insta::assert_yaml_snapshot!(build_service_statefulset(
        &vc,
        service(&vc, ServiceKind::Chain)
    ));
}

#[test]
fn autoscaled_store_statefulset_snapshot() {
    let vc = validated(API_NODE);
    insta::assert_yaml_snapshot!(build_service_statefulset(
        &vc,
        service(&vc, ServiceKind::BlockStore)
    ));
}

#[test]
fn gateway_deployment_snapshot() {
    let vc = validated(API_NODE);
    insta::assert_yaml_snapshot!(build_service_deployment(
        &vc,
        service(&vc, ServiceKind::Jsonrpc)
    ));
}

#[test]
fn producer_statefulset_snapshot() {
    let vc = validated(DEVNET);
    insta::assert_yaml_snapshot!(build_service_statefulset(
        &vc,
        service(&vc, ServiceKind::BlockProducer)
    ));
}

#[test]
fn workload_kind_follows_class() {
    let vc = validated(DEVNET);
    for svc in &vc.services {
        let expected = if svc.profile.class.is_stateful_set() {
            "StatefulSet"
        } else {
            "Deployment"
        };
        assert_eq!(
            build_service_workload(&vc, svc).kind(),
            expected,
            "{}",
            svc.profile.spec_name
        );
    }
}

#[test]
fn replicas_drive_the_workload_unless_autoscaled() {
    let vc = validated(API_NODE);
    assert_eq!(
        workload_replicas(&vc, service(&vc, ServiceKind::Mempool)),
        Some(2)
    );
    assert_eq!(
        workload_replicas(&vc, service(&vc, ServiceKind::BlockStore)),
        None
    );
    assert_eq!(
        workload_replicas(&vc, service(&vc, ServiceKind::Chain)),
        Some(1)
    );
    let zero = validated(&format!("{DEVNET}  services: {{chain: {{replicas: 0}}}}\n"));
    assert_eq!(
        workload_replicas(&zero, service(&zero, ServiceKind::Chain)),
        Some(0)
    );
}

#[test]
fn image_override_gets_the_same_flags_and_config() {
    let vc = validated(API_NODE);
    let ours = build_service_pod_template(&vc, service(&vc, ServiceKind::TransactionStore));
    let official = build_service_pod_template(&vc, service(&vc, ServiceKind::AccountHistory));
    assert_eq!(
        container(&ours).command,
        Some(vec!["koinos-transaction-store".to_string()])
    );
    assert_eq!(
        container(&official).image.as_deref(),
        Some("koinos/koinos-account-history:v1.0.0")
    );
    assert_eq!(
        container(&official).command,
        None,
        "an official image runs its own entrypoint"
    );
    assert_eq!(
        container(&ours).args,
        container(&official).args,
        "same official flags"
    );
    let config_mount = |t: &PodTemplateSpec| {
        container(t)
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.name == "config")
            .cloned()
    };
    assert_eq!(config_mount(&ours), config_mount(&official));
    assert!(
        container(&official).readiness_probe.is_none(),
        "healthProbes: false"
    );
}

#[test]
fn an_official_image_runs_its_own_entrypoint_without_probes() {
    let image = "docker.io/koinos/koinos-p2p:v1.3.0";
    let vc = validated(&format!(
        "{DEVNET}  services: {{p2p: {{enabled: true, image: {image}}}}}\n"
    ));
    let template = build_service_pod_template(&vc, service(&vc, ServiceKind::P2p));
    let c = container(&template);
    assert_eq!(c.image.as_deref(), Some(image));
    assert_eq!(c.command, None, "{image} runs its own entrypoint");
    assert!(c.readiness_probe.is_none() && c.liveness_probe.is_none());
    let default_p2p = validated(&format!("{DEVNET}  services: {{p2p: {{enabled: true}}}}\n"));
    for (vc, kind) in [
        (&vc, ServiceKind::Jsonrpc),
        (&vc, ServiceKind::Grpc),
        (&default_p2p, ServiceKind::P2p),
    ] {
        let ours = build_service_pod_template(vc, service(vc, kind));
        let c = container(&ours);
        let ours_image = format!("{}:{}", vc.image.repository, vc.image.tag);
        assert_eq!(c.image.as_deref(), Some(ours_image.as_str()), "{kind}");
        assert_eq!(
            c.command,
            Some(vec![kind.profile().binary.to_string()]),
            "{kind}"
        );
        assert!(c.readiness_probe.is_some(), "{kind}");
    }
    let forced = validated(&format!(
        "{DEVNET}  services: {{grpc: {{image: example.org/grpc:1, healthProbes: true}}}}\n"
    ));
    let forced = build_service_pod_template(&forced, service(&forced, ServiceKind::Grpc));
    assert_eq!(
        container(&forced).image.as_deref(),
        Some("example.org/grpc:1")
    );
    assert!(container(&forced).readiness_probe.is_some());
}

#[test]
fn every_service_gets_the_official_flags() {
    let vc = validated(DEVNET);
    for svc in &vc.services {
        let args = container(&build_service_pod_template(&vc, svc))
            .args
            .clone()
            .unwrap();
        assert!(args.contains(&"--basedir=/koinos".to_string()), "{args:?}");
        assert!(args.contains(&"--amqp=$(KOINOS_AMQP_URL)".to_string()));
        assert!(args.contains(&"--instance-id=$(POD_NAME)".to_string()));
    }
}

#[test]
fn config_change_changes_only_that_pod_template() {
    let base = validated(DEVNET);
    let changed = validated(&format!(
        "{DEVNET}  config: {{chain: {{fork-algorithm: pob}}}}\n"
    ));
    let annotation = |vc: &ValidatedCluster, kind| {
        build_service_pod_template(vc, service(vc, kind))
            .metadata
            .unwrap()
            .annotations
            .unwrap()[super::super::meta::ANNOTATION_CONFIG_HASH]
            .clone()
    };
    assert_ne!(
        annotation(&base, ServiceKind::Chain),
        annotation(&changed, ServiceKind::Chain)
    );
    assert_eq!(
        annotation(&base, ServiceKind::Mempool),
        annotation(&changed, ServiceKind::Mempool)
    );
}

#[test]
fn pod_overrides_cannot_steal_selector_labels() {
    // validate rejects the selector labels; the builder keeps the operator's regardless.
    let mut vc = validated(&format!(
        "{DEVNET}  podOverrides: {{labels: {{team: koinos}}}}\n"
    ));
    for svc in &mut vc.services {
        svc.pod
            .labels
            .insert("app.kubernetes.io/component".into(), "evil".into());
    }
    let template = build_service_pod_template(&vc, service(&vc, ServiceKind::Mempool));
    let labels = template.metadata.unwrap().labels.unwrap();
    assert_eq!(labels["app.kubernetes.io/component"], "mempool");
    assert_eq!(labels["team"], "koinos");
}

/// What validate reserves is what the builders set: labels, the config-hash annotation and
/// every environment variable of every container (podOverrides.env aside).
#[test]
fn reserved_names_are_the_ones_the_builders_set() {
    use crate::controller::build::{build, meta};
    use crate::model::naming::{CONFIG_HASH_ANNOTATION, OPERATOR_ENV, SELECTOR_LABEL_KEYS};
    use crate::test_support::generated;
    assert_eq!(meta::ANNOTATION_CONFIG_HASH, CONFIG_HASH_ANNOTATION);
    for manifest in [DEVNET, API_NODE] {
        let vc = validated(manifest);
        let desired = build(&vc, &generated());
        let templates = desired
            .stateful_sets
            .iter()
            .filter_map(|s| s.spec.as_ref().map(|s| s.template.clone()))
            .chain(
                desired
                    .deployments
                    .iter()
                    .filter_map(|d| d.spec.as_ref().map(|s| s.template.clone())),
            );
        for template in templates {
            for key in selector_labels(&vc, "x").keys() {
                assert!(SELECTOR_LABEL_KEYS.contains(&key.as_str()), "{key}");
            }
            for container in template.spec.unwrap().containers {
                for var in container.env.unwrap_or_default() {
                    assert!(
                        OPERATOR_ENV.contains(&var.name.as_str()),
                        "{} sets {} (add it to OPERATOR_ENV and the CRD's rule)",
                        container.name,
                        var.name
                    );
                }
            }
        }
    }
}

/// The managed broker takes `spec.image.pullSecrets` and `podOverrides.env` like the services.
#[test]
fn the_broker_takes_pull_secrets_and_extra_env() {
    use crate::controller::build::rabbitmq::build_rabbitmq_statefulset;
    use crate::model::Amqp;
    let vc = validated(&format!(
        "{DEVNET}  image: {{pullSecrets: [mirror]}}\n  amqp: {{managed: {{podOverrides: {{env: [{{name: TZ, value: UTC}}]}}}}}}\n"
    ));
    let Amqp::Managed(broker) = &vc.amqp else {
        panic!("managed")
    };
    let pod = build_rabbitmq_statefulset(&vc, broker)
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    assert_eq!(pod.image_pull_secrets.unwrap()[0].name, "mirror");
    let env = pod.containers[0].env.clone().unwrap();
    assert!(
        env.iter()
            .any(|e| e.name == "TZ" && e.value.as_deref() == Some("UTC"))
    );
    assert!(env.iter().any(|e| e.name == "RABBITMQ_NODENAME"));
}

#[test]
fn store_volumes_follow_retention_policy() {
    let vc = validated(API_NODE);
    let sts = build_service_statefulset(&vc, service(&vc, ServiceKind::BlockStore));
    let policy = sts
        .spec
        .unwrap()
        .persistent_volume_claim_retention_policy
        .unwrap();
    assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
    assert_eq!(policy.when_scaled.as_deref(), Some("Retain"));
    let chain = build_service_statefulset(&vc, service(&vc, ServiceKind::Chain));
    let policy = chain
        .spec
        .unwrap()
        .persistent_volume_claim_retention_policy
        .unwrap();
    assert_eq!(
        policy.when_deleted.as_deref(),
        Some("Retain"),
        "default Retain"
    );
}
