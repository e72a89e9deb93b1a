use serde_json::{Value, json};

use super::*;

const COMMITTED_CRD: &str = include_str!("../../../crds/koinoscluster.yaml");

fn openapi_schema() -> Value {
    let crd = serde_json::to_value(crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn object(spec: Value) -> Value {
    json!({
        "apiVersion": "koinos.io/v1alpha1",
        "kind": "KoinosCluster",
        "metadata": {"name": "devnet", "namespace": "default"},
        "spec": spec,
    })
}

/// Messages of the CEL rules the object violates (creation, or update from `old`).
fn cel_violations(spec: Value, old_spec: Option<Value>) -> Vec<String> {
    let schema = openapi_schema();
    let old = old_spec.map(object);
    match kube::core::cel::Validator::new().validate(&schema, &object(spec), old.as_ref()) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .into_iter()
            .map(|e| e.to_string())
            .collect(),
    }
}

#[test]
fn committed_crd_matches_generated() {
    assert!(
        COMMITTED_CRD == crd_yaml(),
        "crds/koinoscluster.yaml is stale: run `cargo run -p koinos-operator -- crd > crds/koinoscluster.yaml`"
    );
}

#[test]
fn crd_fits_client_side_apply_annotation() {
    // kubectl/Argo CD client-side apply store the object in a 256 KiB annotation.
    let json = serde_json::to_string(&crd()).unwrap();
    assert!(json.len() < 200 * 1024, "CRD is {} bytes", json.len());
}

#[test]
fn crd_names_and_columns() {
    let crd = crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("koinosclusters.koinos.io")
    );
    assert_eq!(crd.spec.names.short_names, Some(vec!["kc".to_string()]));
    assert_eq!(crd.spec.names.categories, Some(vec!["koinos".to_string()]));
    let version = &crd.spec.versions[0];
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<_> = version
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.to_uppercase())
        .collect();
    assert_eq!(
        columns,
        ["READY", "HEIGHT", "LIB", "LAG", "SERVICES", "AGE"]
    );
}

#[test]
fn every_cel_rule_compiles() {
    let compiled = kube::core::cel::compile_schema(&openapi_schema());
    let errors: Vec<_> = compiled
        .compilation_errors()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn minimal_devnet_is_valid() {
    assert_eq!(
        cel_violations(json!({"network": {"devnet": {}}}), None),
        Vec::<String>::new()
    );
}

#[test]
fn a_devnet_consensus_is_part_of_the_immutable_network() {
    let pob = json!({"network": {"devnet": {"consensus": "pob"}}});
    let native_pob = json!({"network": {"devnet": {"consensus": "pob", "token": "native"}}});
    for spec in [&pob, &native_pob] {
        assert_eq!(cel_violations(spec.clone(), None), Vec::<String>::new());
    }
    let federated = json!({"network": {"devnet": {"consensus": "federated"}}});
    for (old, new) in [(&federated, &pob), (&pob, &federated)] {
        let violations = cel_violations(new.clone(), Some(old.clone()));
        assert!(
            violations
                .iter()
                .any(|v| v.contains("spec.network is immutable once set")),
            "{old} -> {new}: {violations:#?}"
        );
    }
}

#[test]
fn minimal_public_networks_are_valid() {
    for network in [
        json!({"mainnet": {}}),
        json!({"harbinger": {}}),
        json!({"mainnet": {"genesisConfigMapRef": {"name": "g"}}}),
    ] {
        assert_eq!(
            cel_violations(json!({ "network": network }), None),
            Vec::<String>::new()
        );
    }
}

#[test]
fn switching_networks_is_refused_naming_the_field() {
    let mainnet = json!({"network": {"mainnet": {}}});
    for other in [
        json!({"network": {"harbinger": {}}}),
        json!({"network": {"devnet": {}}}),
        json!({"network": {"mainnet": {"genesisConfigMapRef": {"name": "g"}}}}),
    ] {
        let violations = cel_violations(other.clone(), Some(mainnet.clone()));
        assert!(
            violations.iter().any(|v| v
                .contains("spec.network is immutable once set: a cluster cannot switch networks")),
            "{other}: {violations:#?}"
        );
    }
    assert_eq!(
        cel_violations(mainnet.clone(), Some(mainnet)),
        Vec::<String>::new()
    );
}

#[test]
fn cel_rejects_invalid_specs_naming_the_field() {
    let cases = [
        (json!({"network": {}}), "spec.network: set exactly one"),
        (
            json!({"network": {"devnet": {}, "genesis": {"configMapRef": {"name": "g"}}}}),
            "spec.network: set exactly one",
        ),
        (
            json!({"network": {"mainnet": {}, "harbinger": {}}}),
            "spec.network: set exactly one of mainnet, harbinger, genesis or devnet",
        ),
        (
            json!({"network": {"harbinger": {"genesisConfigMapRef": {"name": ""}}}}),
            "the genesis ConfigMap name must not be empty",
        ),
        (
            json!({"network": {"devnet": {}}, "amqp": {}}),
            "spec.amqp: set exactly one of managed or external",
        ),
        (
            json!({"network": {"devnet": {}}, "amqp": {"managed": {}, "external": {"urlSecretRef": {"name": "a", "key": "url"}}}}),
            "spec.amqp: set exactly one of managed or external",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"mempool": {"route": {"parentRefs": [{"name": "gw"}]}}}}),
            "spec.services.mempool.route: only jsonrpc and grpc serve HTTP behind a Gateway API route",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"grpc": {"route": {"parentRefs": [{"name": "gw"}], "path": "/x"}}}}),
            "spec.services.grpc.route.path: a GRPCRoute matches gRPC services and methods, not paths",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"jsonrpc": {"route": {"parentRefs": []}}}}),
            "parentRefs: name at least one Gateway",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"chain": {"replicas": 2}}}),
            "spec.services.chain: chain is a singleton",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"blockProducer": {"replicas": 3}}}),
            "spec.services.blockProducer: blockProducer is a singleton",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"p2p": {"autoscaling": {"enabled": true}}}}),
            "spec.services.p2p: p2p is a singleton",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"blockStore": {"autoscaling": {"enabled": true, "minReplicas": 5, "maxReplicas": 2}}}}),
            "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"blockStore": {"storage": {"size": "lots"}}}}),
            "storage.size must be a quantity",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"mempool": {"storage": {"size": "1Gi"}}}}),
            "spec.services.mempool.storage",
        ),
        (
            json!({"network": {"devnet": {}}, "services": {"jsonrpc": {"autoscaling": {"enabled": true, "provider": "keda"}}}}),
            "spec.services.jsonrpc.autoscaling.provider: keda scales on RPC queue depth",
        ),
        (
            json!({"network": {"devnet": {}}, "monitoring": {"podMonitor": {"enabled": true, "interval": "soon"}}}),
            "spec.monitoring.podMonitor.interval: a Prometheus duration",
        ),
        (
            json!({"network": {"devnet": {}}, "monitoring": {"podMonitor": {"enabled": true, "interval": "0s"}}}),
            "spec.monitoring.podMonitor.interval: a Prometheus duration",
        ),
        (
            json!({"network": {"devnet": {}}, "monitoring": {"podMonitor": {"interval": "30"}}}),
            "spec.monitoring.podMonitor.interval: a Prometheus duration",
        ),
        (
            json!({"network": {"devnet": {}}, "monitoring": {"podMonitor": {"enabled": true, "labels": {"app.kubernetes.io/managed-by": "me"}}}}),
            "spec.monitoring.podMonitor.labels: app.kubernetes.io/name, instance, component, managed-by and part-of",
        ),
    ];
    for (spec, expected) in cases {
        let violations = cel_violations(spec.clone(), None);
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "{spec} should fail with {expected:?}, got {violations:#?}"
        );
    }
}

/// Fields that would otherwise be accepted and ignored are rejected, naming the field.
#[test]
fn cel_rejects_fields_that_would_be_ignored() {
    let devnet = |extra: Value| {
        let mut spec = json!({"network": {"devnet": {}}});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec
    };
    let cases = vec![
        (
            devnet(json!({"services": {"chain": {"service": {"type": "LoadBalancer"}}}})),
            "spec.services.chain.service: chain serves no client port".to_string(),
        ),
        (
            devnet(json!({"services": {"blockStore": {"autoscaling": {"enabled": true, "targetCpuUtilizationPercentage": 50}}}})),
            "spec.services.blockStore.autoscaling.targetCpuUtilizationPercentage: blockStore scales on RPC queue depth".into(),
        ),
        (
            devnet(json!({"services": {"jsonrpc": {"autoscaling": {"enabled": true, "targetQueueDepth": 5}}}})),
            "spec.services.jsonrpc.autoscaling.targetQueueDepth: jsonrpc scales on CPU".into(),
        ),
        (
            devnet(json!({"services": {"chain": {"privateKeySecretRef": {"name": "k", "key": "wif"}}}})),
            "spec.services.chain.privateKeySecretRef: only blockProducer takes a private key".into(),
        ),
        (
            devnet(json!({"services": {"jsonrpc": {"seeds": ["/dns4/x/tcp/8888/p2p/Qm"]}}})),
            "spec.services.jsonrpc.seeds: only p2p takes seeds".into(),
        ),
        (
            devnet(json!({"services": {"p2p": {"storage": {"size": "1Gi"}}}})),
            "spec.services.p2p.storage: p2p keeps no data on disk".into(),
        ),
        (
            devnet(json!({"podOverrides": {"labels": {"app.kubernetes.io/component": "x"}}})),
            "podOverrides.labels: app.kubernetes.io/name, instance and component select the pods".into(),
        ),
        (
            devnet(json!({"services": {"mempool": {"podOverrides": {"annotations": {"koinos.io/config-hash": "x"}}}}})),
            "podOverrides.annotations: koinos.io/config-hash".into(),
        ),
        (
            devnet(json!({"services": {"chain": {"podOverrides": {"annotations": {"koinos.io/amqp-user": "x"}}}}})),
            "podOverrides.annotations: koinos.io/amqp-user".into(),
        ),
    ];
    for (spec, expected) in cases {
        let violations = cel_violations(spec.clone(), None);
        assert!(
            violations.iter().any(|v| v.contains(&expected)),
            "{spec} should fail with {expected:?}, got {violations:#?}"
        );
    }
    // What acts is still accepted.
    let fine = devnet(json!({
        "config": {"global": {"log-level": "debug"}, "mempool": {"transaction-expiration": 60}},
        "podOverrides": {"labels": {"team": "a"}, "env": [{"name": "TZ", "value": "UTC"}]},
        "services": {
            "blockStore": {"autoscaling": {"enabled": true, "targetQueueDepth": 5}},
            "jsonrpc": {"service": {"type": "LoadBalancer"}, "autoscaling": {"enabled": true, "targetCpuUtilizationPercentage": 50}},
            "p2p": {"seeds": ["/dns4/x/tcp/8888/p2p/Qm"], "service": {"type": "NodePort"}},
            "blockProducer": {"privateKeySecretRef": {"name": "k", "key": "wif"}}
        }
    }));
    assert_eq!(cel_violations(fine, None), Vec::<String>::new());
}

#[test]
fn keda_is_accepted_where_queue_depth_is_the_signal() {
    let store = json!({"network": {"devnet": {}}, "services": {
        "blockStore": {"autoscaling": {"enabled": true, "provider": "keda"}},
        "grpc": {"autoscaling": {"enabled": false, "provider": "keda"}},
    }});
    assert_eq!(cel_violations(store, None), Vec::<String>::new());
}

#[test]
fn cel_transition_rules() {
    let base = json!({"network": {"devnet": {}}, "services": {"blockStore": {"storage": {"size": "100Gi"}}}});
    let grown = json!({"network": {"devnet": {}}, "services": {"blockStore": {"storage": {"size": "200Gi"}}}});
    let shrunk = json!({"network": {"devnet": {}}, "services": {"blockStore": {"storage": {"size": "50Gi"}}}});
    let other_network = json!({"network": {"genesis": {"configMapRef": {"name": "mainnet"}}}, "services": {"blockStore": {"storage": {"size": "100Gi"}}}});
    let reclassed = json!({"network": {"devnet": {}}, "services": {"blockStore": {"storage": {"size": "100Gi", "storageClassName": "fast"}}}});

    assert_eq!(
        cel_violations(grown.clone(), Some(base.clone())),
        Vec::<String>::new()
    );
    assert_eq!(
        cel_violations(base.clone(), Some(base.clone())),
        Vec::<String>::new()
    );
    let shrink = cel_violations(shrunk, Some(base.clone()));
    assert!(
        shrink
            .iter()
            .any(|v| v.contains("storage.size can only grow")),
        "{shrink:?}"
    );
    let network = cel_violations(other_network, Some(base.clone()));
    assert!(
        network
            .iter()
            .any(|v| v.contains("spec.network is immutable")),
        "{network:?}"
    );
    let class = cel_violations(reclassed, Some(base));
    assert!(
        class
            .iter()
            .any(|v| v.contains("storageClassName is immutable")),
        "{class:?}"
    );
}

#[test]
fn schema_defaults_fill_a_minimal_spec() {
    let cluster: KoinosCluster =
        serde_json::from_value(object(json!({"network": {"devnet": {}}}))).unwrap();
    assert!(cluster.spec.amqp.managed.is_some());
    assert_eq!(
        cluster.spec.image.repository,
        "ghcr.io/koinos-operator/koinos-services"
    );
    let schema = openapi_schema();
    let amqp_default = &schema["properties"]["spec"]["properties"]["amqp"]["default"];
    assert!(
        amqp_default["managed"].is_object(),
        "amqp defaults to managed: {amqp_default}"
    );
}

#[test]
fn monitoring_accepts_prometheus_durations_and_extra_labels() {
    for interval in ["30s", "1m", "1m30s", "500ms", "2h", "1d"] {
        let spec = json!({"network": {"devnet": {}}, "monitoring": {"podMonitor": {
            "enabled": true, "interval": interval, "labels": {"release": "prometheus"}}}});
        assert_eq!(
            cel_violations(spec, None),
            Vec::<String>::new(),
            "{interval}"
        );
    }
}
