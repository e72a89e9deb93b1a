use super::*;
use crate::crd::storage::RetentionPolicy;
use crate::test_support::{API_NODE, DEVNET, fixture, validated};

fn errors(yaml: &str) -> Vec<FieldError> {
    validate(&fixture(yaml), "default")
        .expect_err("spec is invalid")
        .0
}

fn devnet_with(spec_extra: &str) -> String {
    format!("{DEVNET}{spec_extra}")
}

/// The fields the errors of a devnet with `spec_extra` name.
fn devnet_error_fields(spec_extra: &str) -> Vec<String> {
    errors(&devnet_with(spec_extra))
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn devnet_defaults() {
    let vc = validated(DEVNET);
    assert_eq!(
        vc.network,
        Network::Devnet {
            token: DevnetToken::Wasm,
            consensus: DevnetConsensus::Federated,
        }
    );
    assert_eq!(
        vc.devnet_producer, None,
        "not in the spec: the builders fill it"
    );
    assert!(matches!(&vc.amqp, Amqp::Managed(b) if b.replicas == 1));
    // Nine services: the producer is on for a devnet, with the generated key; p2p is off.
    assert_eq!(vc.services.len(), 9);
    assert!(vc.service(ServiceKind::P2p).is_none());
    let producer = vc.service(ServiceKind::BlockProducer).unwrap();
    assert_eq!(
        producer.private_key.as_ref().unwrap().name,
        "devnet-producer-key"
    );
    let store = vc.service(ServiceKind::BlockStore).unwrap();
    assert_eq!(store.storage.as_ref().unwrap().size, "100Gi");
    assert_eq!(
        store.storage.as_ref().unwrap().retention,
        RetentionPolicy::Retain
    );
    assert_eq!(
        store.image,
        format!(
            "ghcr.io/koinos-operator/koinos-services:v{}",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn api_node_resolves_overrides() {
    let vc = validated(API_NODE);
    assert!(
        vc.service(ServiceKind::BlockProducer).is_none(),
        "producer is off outside a devnet"
    );
    assert!(vc.service(ServiceKind::Grpc).is_none());
    let store = vc.service(ServiceKind::BlockStore).unwrap();
    assert_eq!(store.autoscaling.as_ref().unwrap().min_replicas, 2);
    let jsonrpc = vc.service(ServiceKind::Jsonrpc).unwrap();
    assert_eq!(
        jsonrpc.autoscaling.as_ref().unwrap().min_replicas,
        2,
        "replicas is the floor"
    );
    let p2p = vc.service(ServiceKind::P2p).unwrap();
    assert_eq!(
        p2p.pod.node_selector.get("zone").map(String::as_str),
        Some("edge")
    );
    assert_eq!(
        p2p.pod.node_selector.get("pool").map(String::as_str),
        Some("koinos"),
        "maps merge"
    );
    assert_eq!(
        p2p.pod.tolerations.len(),
        1,
        "cluster-wide tolerations apply"
    );
    let history = vc.service(ServiceKind::AccountHistory).unwrap();
    assert_eq!(history.image, "koinos/koinos-account-history:v1.0.0");
    assert!(!history.health_probes);
}

#[test]
fn invalid_specs_are_rejected_naming_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "  services: {chain: {replicas: 2}}\n",
            "spec.services.chain.replicas",
            "singleton",
        ),
        (
            "  services: {p2p: {autoscaling: {enabled: true}}}\n",
            "spec.services.p2p.autoscaling",
            "singleton",
        ),
        (
            "  services: {blockStore: {autoscaling: {enabled: true, minReplicas: 4, maxReplicas: 2}}}\n",
            "spec.services.blockStore.autoscaling.minReplicas",
            "exceeds",
        ),
        (
            "  services: {mempool: {storage: {size: 1Gi}}}\n",
            "spec.services.mempool.storage",
            "no data",
        ),
        (
            "  services: {chain: {storage: {size: lots}}}\n",
            "spec.services.chain.storage.size",
            "quantity",
        ),
        (
            "  services: {chain: {seeds: [x]}}\n",
            "spec.services.chain.seeds",
            "only p2p",
        ),
        (
            "  services: {jsonrpc: {privateKeySecretRef: {name: k, key: wif}}}\n",
            "spec.services.jsonrpc.privateKeySecretRef",
            "only blockProducer",
        ),
        (
            "  services: {mempool: {service: {port: 81}}}\n",
            "spec.services.mempool.service",
            "no client port",
        ),
        (
            "  services: {chain: {service: {type: LoadBalancer}}}\n",
            "spec.services.chain.service",
            "no client port",
        ),
        (
            "  services: {blockStore: {autoscaling: {enabled: true, targetCpuUtilizationPercentage: 50}}}\n",
            "spec.services.blockStore.autoscaling.targetCpuUtilizationPercentage",
            "queue depth",
        ),
        (
            "  services: {grpc: {autoscaling: {targetQueueDepth: 5}}}\n",
            "spec.services.grpc.autoscaling.targetQueueDepth",
            "scales on CPU",
        ),
        (
            "  podOverrides: {labels: {app.kubernetes.io/instance: other}}\n",
            "spec.podOverrides.labels.app.kubernetes.io/instance",
            "selects the pods",
        ),
        (
            "  services: {jsonrpc: {podOverrides: {annotations: {koinos.io/config-hash: x}}}}\n",
            "spec.services.jsonrpc.podOverrides.annotations.koinos.io/config-hash",
            "operator sets it",
        ),
        (
            "  podOverrides: {annotations: {koinos.io/amqp-user: x}}\n",
            "spec.podOverrides.annotations.koinos.io/amqp-user",
            "new broker user",
        ),
        (
            "  amqp: {managed: {podOverrides: {env: [{name: RABBITMQ_NODENAME, value: x}]}}}\n",
            "spec.amqp.managed.podOverrides.env.RABBITMQ_NODENAME",
            "set by the operator",
        ),
        (
            "  services: {p2p: {podOverrides: {env: [{name: KOINOS_P2P_SEED, value: x}]}}}\n",
            "spec.services.p2p.podOverrides.env.KOINOS_P2P_SEED",
            "set by the operator",
        ),
        (
            "  services: {grpc: {image: ' '}}\n",
            "spec.services.grpc.image",
            "empty",
        ),
        (
            "  config: {chain: {amqp: 'amqp://x'}}\n",
            "spec.config.chain.amqp",
            "set by the operator",
        ),
        (
            "  config: {block-store: {reset: true}}\n",
            "spec.config.block-store",
            "unknown section",
        ),
        (
            "  services: {jsonrpc: {autoscaling: {enabled: true, provider: keda}}}\n",
            "spec.services.jsonrpc.autoscaling.provider",
            "use provider hpa",
        ),
        (
            "  services: {grpc: {autoscaling: {enabled: true, provider: keda}}}\n",
            "spec.services.grpc.autoscaling.provider",
            "scales on CPU",
        ),
        ("  amqp: {}\n", "spec.amqp", "exactly one"),
        (
            "  amqp: {external: {urlSecretRef: {name: '', key: url}}}\n",
            "spec.amqp.external.urlSecretRef",
            "must be set",
        ),
        (
            "  podOverrides: {affinity: {nodeAffinity: 3}}\n",
            "spec.podOverrides.affinity",
            "Affinity",
        ),
    ];
    for (extra, field, message) in cases {
        let errs = errors(&devnet_with(extra));
        assert!(
            errs.iter()
                .any(|e| e.field == *field && e.message.contains(message)),
            "{extra:?}: expected {field} / {message:?}, got {errs:#?}"
        );
    }
}

#[test]
fn keda_provider_is_resolved_for_queue_depth_services() {
    let vc = validated(&devnet_with(
        "  services:\n    mempool: {autoscaling: {enabled: true, provider: keda}}\n    jsonrpc: {autoscaling: {provider: keda}}\n",
    ));
    let mempool = vc.service(ServiceKind::Mempool).unwrap();
    assert_eq!(
        mempool.autoscaling.as_ref().unwrap().provider,
        AutoscalingProvider::Keda
    );
    assert!(
        vc.service(ServiceKind::Jsonrpc)
            .unwrap()
            .autoscaling
            .is_none(),
        "a provider without enabled: true scales nothing, so it is not an error"
    );
    let store = validated(API_NODE);
    let store = store.service(ServiceKind::BlockStore).unwrap();
    assert_eq!(
        store.autoscaling.as_ref().unwrap().provider,
        AutoscalingProvider::Hpa,
        "hpa is the default"
    );
}

#[test]
fn producer_outside_devnet_needs_a_key() {
    let yaml = "apiVersion: koinos.io/v1alpha1\nkind: KoinosCluster\nmetadata: {name: m}\nspec:\n  network: {genesis: {configMapRef: {name: g}}}\n  services: {blockProducer: {enabled: true}}\n";
    let errs = errors(yaml);
    assert_eq!(
        errs[0].field,
        "spec.services.blockProducer.privateKeySecretRef"
    );
}

#[test]
fn network_needs_exactly_one_source() {
    let yaml = "apiVersion: koinos.io/v1alpha1\nkind: KoinosCluster\nmetadata: {name: m}\nspec:\n  network: {}\n";
    assert_eq!(errors(yaml)[0].field, "spec.network");
    let two = "apiVersion: koinos.io/v1alpha1\nkind: KoinosCluster\nmetadata: {name: m}\nspec:\n  network: {mainnet: {}, devnet: {}}\n";
    assert_eq!(errors(two)[0].field, "spec.network");
}

#[test]
fn presets_run_official_images_where_ours_cannot_and_ours_elsewhere() {
    use crate::model::network::Preset;
    use crate::test_support::{HARBINGER, MAINNET};
    for (manifest, preset) in [(MAINNET, Preset::Mainnet), (HARBINGER, Preset::Harbinger)] {
        let vc = validated(manifest);
        assert_eq!(vc.network.preset(), Some(preset));
        assert_eq!(vc.network.ships_genesis(), Some(preset));
        let image = |kind| {
            vc.service(kind)
                .map(|s| (s.image.clone(), s.services_image))
        };
        assert_eq!(
            image(ServiceKind::Chain),
            Some(("docker.io/koinos/koinos-chain:v1.5.2".into(), false))
        );
        assert_eq!(
            image(ServiceKind::P2p).unwrap().0,
            "docker.io/koinos/koinos-p2p:v1.3.0"
        );
        let ours = format!("{}:{}", vc.image.repository, vc.image.tag);
        // Whatever the preset does not name runs ours.
        for kind in [
            ServiceKind::Grpc,
            ServiceKind::BlockStore,
            ServiceKind::Mempool,
            ServiceKind::TransactionStore,
            ServiceKind::ContractMetaStore,
            ServiceKind::AccountHistory,
            ServiceKind::Jsonrpc,
        ] {
            assert_eq!(image(kind), Some((ours.clone(), true)), "{kind}");
        }
        // Not a devnet: p2p on with the official seeds, no producer unless asked.
        assert!(vc.service(ServiceKind::BlockProducer).is_none());
        let p2p = vc.service(ServiceKind::P2p).unwrap();
        assert_eq!(p2p.seeds.len(), preset.data().seeds.len());
        assert!(!p2p.health_probes, "official images serve no /readyz");
    }
    // Every default is overridable: images, seeds, the genesis ConfigMap.
    let custom = validated(&format!(
        "{}  services:\n    chain: {{image: my/chain:1}}\n    p2p: {{seeds: [/dns4/a/tcp/8888/p2p/QmA]}}\n    blockProducer: {{enabled: true, image: my/producer:2, privateKeySecretRef: {{name: k, key: wif}}}}\n",
        MAINNET.replace(
            "mainnet: {}",
            "mainnet: {genesisConfigMapRef: {name: g, key: genesis.json}}"
        )
    ));
    assert_eq!(
        custom.service(ServiceKind::Chain).unwrap().image,
        "my/chain:1"
    );
    assert_eq!(
        custom.service(ServiceKind::BlockProducer).unwrap().image,
        "my/producer:2"
    );
    assert_eq!(
        custom.service(ServiceKind::P2p).unwrap().seeds,
        ["/dns4/a/tcp/8888/p2p/QmA"]
    );
    assert_eq!(custom.network.ships_genesis(), None);
    assert_eq!(
        crate::model::naming::genesis_source(&custom),
        GenesisRef {
            config_map: "g".into(),
            key: "genesis.json".into()
        }
    );
    let empty = MAINNET.replace("mainnet: {}", "mainnet: {genesisConfigMapRef: {name: ''}}");
    assert_eq!(
        errors(&empty)[0].field,
        "spec.network.mainnet.genesisConfigMapRef.name"
    );
}

#[test]
fn long_cluster_names_are_rejected() {
    let yaml = DEVNET.replace(
        "name: devnet",
        &format!("name: {}", "a".repeat(MAX_CLUSTER_NAME + 1)),
    );
    assert_eq!(errors(&yaml)[0].field, "metadata.name");
}

#[test]
fn all_errors_are_reported_together() {
    let errs = errors(&devnet_with(
        "  services: {chain: {replicas: 3}, p2p: {replicas: 2}}\n",
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    let text = InvalidSpec(errs).to_string();
    assert!(
        text.contains("spec.services.chain.replicas")
            && text.contains("spec.services.p2p.replicas")
    );
}

#[test]
fn quantities() {
    for ok in ["100Gi", "1.5Ti", "500M", "10"] {
        assert!(is_quantity(ok), "{ok}");
    }
    for bad in ["", "lots", "10GB", "Gi"] {
        assert!(!is_quantity(bad), "{bad}");
    }
}

#[test]
fn pod_monitor_settings_are_resolved_only_when_enabled() {
    assert_eq!(validated(DEVNET).pod_monitor, None);
    let on = validated(&devnet_with(
        "  monitoring: {podMonitor: {enabled: true, labels: {release: prometheus}}}\n",
    ));
    let settings = on.pod_monitor.unwrap();
    assert_eq!(settings.interval, "30s", "the schema default");
    assert_eq!(settings.labels["release"], "prometheus");
    let off = validated(&devnet_with(
        "  monitoring: {podMonitor: {enabled: false, interval: 1m}}\n",
    ));
    assert_eq!(off.pod_monitor, None, "kept for when it is turned back on");
}

#[test]
fn pod_monitor_labels_and_interval_are_checked_naming_the_field() {
    assert_eq!(
        devnet_error_fields(
            "  monitoring: {podMonitor: {enabled: true, labels: {app.kubernetes.io/instance: x}}}\n"
        ),
        ["spec.monitoring.podMonitor.labels.app.kubernetes.io/instance"]
    );
    assert_eq!(
        devnet_error_fields(
            "  monitoring: {podMonitor: {enabled: true, labels: {\"bad key!\": x}}}\n"
        ),
        ["spec.monitoring.podMonitor.labels.bad key!"]
    );
    assert_eq!(
        devnet_error_fields(
            "  monitoring: {podMonitor: {enabled: true, labels: {team: \"-x-\"}}}\n"
        ),
        ["spec.monitoring.podMonitor.labels.team"]
    );
    assert_eq!(
        devnet_error_fields("  monitoring: {podMonitor: {enabled: true, interval: 5x}}\n"),
        ["spec.monitoring.podMonitor.interval"]
    );
}

#[test]
fn prometheus_durations_and_label_syntax() {
    for good in ["30s", "1m30s", "100ms", "1y2w3d4h5m6s7ms", "05s"] {
        assert!(is_prometheus_duration(good), "{good}");
    }
    for bad in [
        "", "0", "0s", "0m0s", "30", "s", "1s1m", "1.5s", "1ms5s", "30sec", " 30s",
    ] {
        assert!(!is_prometheus_duration(bad), "{bad}");
    }
    for good in ["release", "example.com/team", "a_b.c-d", "x"] {
        assert!(is_label_key(good), "{good}");
    }
    for bad in ["", "/x", "Example.com/x", "a/b/c", "-x", &"k".repeat(64)] {
        assert!(!is_label_key(bad), "{bad}");
    }
    assert!(is_label_value("") && is_label_value("prometheus") && !is_label_value("a b"));
}

#[test]
fn exposure_settings_are_checked_naming_the_field() {
    assert_eq!(
        devnet_error_fields(
            "  services: {jsonrpc: {service: {loadBalancerSourceRanges: [10.0.0.0/8]}}}\n"
        ),
        ["spec.services.jsonrpc.service.loadBalancerSourceRanges"]
    );
    assert_eq!(
        devnet_error_fields(
            "  services: {jsonrpc: {service: {type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0/8, 10.0.0.0, 1.2.3.4/33]}}}\n"
        ),
        [
            "spec.services.jsonrpc.service.loadBalancerSourceRanges[1]",
            "spec.services.jsonrpc.service.loadBalancerSourceRanges[2]"
        ]
    );
    assert_eq!(
        devnet_error_fields("  services: {grpc: {service: {externalTrafficPolicy: Local}}}\n"),
        ["spec.services.grpc.service.externalTrafficPolicy"]
    );
    assert_eq!(
        devnet_error_fields(
            "  services: {jsonrpc: {ingress: {tlsSecretName: tls, path: rpc, host: A.com}}}\n"
        ),
        [
            "spec.services.jsonrpc.ingress.host",
            "spec.services.jsonrpc.ingress.path"
        ]
    );
    assert_eq!(
        devnet_error_fields(
            "  services: {jsonrpc: {ingress: {tlsSecretName: tls, annotations: {\"bad key!\": x}}}}\n"
        ),
        [
            "spec.services.jsonrpc.ingress.tlsSecretName",
            "spec.services.jsonrpc.ingress.annotations.bad key!"
        ]
    );
    assert_eq!(
        devnet_error_fields("  services: {mempool: {ingress: {host: a.com}}}\n"),
        ["spec.services.mempool.ingress"]
    );
    assert_eq!(
        devnet_error_fields("  services: {p2p: {enabled: true, ingress: {host: a.com}}}\n"),
        ["spec.services.p2p.ingress"]
    );
    assert_eq!(
        devnet_error_fields("  services: {jsonrpc: {announce: a.com}}\n"),
        ["spec.services.jsonrpc.announce"]
    );
    assert_eq!(
        devnet_error_fields("  services: {p2p: {enabled: true, announce: \"a.com:0\"}}\n"),
        ["spec.services.p2p.announce"]
    );
}

#[test]
fn exposure_settings_are_resolved() {
    let vc = validated(&devnet_with(
        "  services:\n    jsonrpc: {service: {type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0/8], externalTrafficPolicy: Local}, ingress: {host: rpc.example.com}}\n    p2p: {enabled: true, announce: 203.0.113.7}\n",
    ));
    let jsonrpc = vc.service(ServiceKind::Jsonrpc).unwrap();
    let ingress = jsonrpc.ingress.as_ref().unwrap();
    assert_eq!(ingress.path, "/");
    assert_eq!(
        ingress.path_type,
        crate::crd::exposure::IngressPathType::Prefix
    );
    assert_eq!(
        vc.service(ServiceKind::P2p).unwrap().announce.as_deref(),
        Some("/ip4/203.0.113.7/tcp/8888")
    );
    assert_eq!(vc.service(ServiceKind::Grpc).unwrap().ingress, None);
}
