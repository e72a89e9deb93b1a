//! Invariants over the whole bundle, for every fixture.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::*;
use crate::test_support::{API_NODE, DEVNET, EXTERNAL_BROKER, generated, validated};

const STOPPED: &str = "  clusterOperation: {stopped: true}\n";

/// The API node with block_store and mempool scaled by KEDA (jsonrpc keeps its CPU HPA).
fn keda_node() -> String {
    API_NODE
        .replace(
            "targetQueueDepth: 20}",
            "targetQueueDepth: 20, provider: keda}",
        )
        .replace(
            "mempool: {replicas: 2}",
            "mempool: {replicas: 2, autoscaling: {enabled: true, provider: keda}}",
        )
}

fn all_fixtures() -> Vec<(String, Desired)> {
    [
        DEVNET.to_string(),
        API_NODE.to_string(),
        EXTERNAL_BROKER.to_string(),
        format!("{API_NODE}{STOPPED}"),
        keda_node(),
        format!("{DEVNET}  monitoring: {{podMonitor: {{enabled: true}}}}\n"),
    ]
    .into_iter()
    .map(|yaml| (yaml.clone(), build(&validated(&yaml), &generated())))
    .collect()
}

/// Collects every child's kind and metadata.
struct Metas(Vec<(&'static str, ObjectMeta)>);

impl Visitor for Metas {
    type Error = std::convert::Infallible;

    async fn visit<K: Child>(&mut self, objects: &[K]) -> Result<(), Self::Error> {
        self.0
            .extend(objects.iter().map(|o| (K::KIND, o.meta().clone())));
        Ok(())
    }
}

fn all_meta(d: &Desired) -> Vec<(&'static str, ObjectMeta)> {
    use futures::FutureExt;
    let mut metas = Metas(Vec::new());
    let done = d.visit(Order::Apply, &mut metas).now_or_never();
    assert!(matches!(done, Some(Ok(()))), "collecting never waits");
    metas.0
}

fn templates(d: &Desired) -> Vec<(String, &LabelSelector, &PodTemplateSpec, Option<i32>)> {
    let mut out = Vec::new();
    for s in &d.stateful_sets {
        let spec = s.spec.as_ref().unwrap();
        out.push((
            s.metadata.name.clone().unwrap(),
            &spec.selector,
            &spec.template,
            spec.replicas,
        ));
    }
    for s in &d.deployments {
        let spec = s.spec.as_ref().unwrap();
        out.push((
            s.metadata.name.clone().unwrap(),
            &spec.selector,
            &spec.template,
            spec.replicas,
        ));
    }
    out
}

fn is_subset(sub: &BTreeMap<String, String>, sup: &BTreeMap<String, String>) -> bool {
    sub.iter().all(|(k, v)| sup.get(k) == Some(v))
}

#[test]
fn every_child_is_owned_labelled_and_uniquely_named() {
    for (yaml, d) in all_fixtures() {
        let mut seen = BTreeSet::new();
        for (kind, meta) in all_meta(&d) {
            let name = meta.name.clone().unwrap();
            assert!(
                seen.insert((kind, name.clone())),
                "duplicate {kind}/{name} in {yaml}"
            );
            let owner = &meta.owner_references.as_ref().expect("owner ref")[0];
            assert_eq!(
                (owner.kind.as_str(), owner.controller),
                ("KoinosCluster", Some(true)),
                "{kind}/{name}"
            );
            let labels = meta.labels.as_ref().unwrap();
            assert_eq!(
                labels[meta::LABEL_MANAGED_BY],
                "koinos-operator",
                "{kind}/{name}"
            );
            assert!(name.len() <= 63, "{kind}/{name} too long");
        }
    }
}

#[test]
fn selectors_match_pod_labels() {
    for (_, d) in all_fixtures() {
        for (name, selector, template, _) in templates(&d) {
            let pod_labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
            assert!(
                is_subset(selector.match_labels.as_ref().unwrap(), pod_labels),
                "{name}"
            );
        }
        for service in &d.services {
            let selector = service.spec.as_ref().unwrap().selector.as_ref().unwrap();
            let matched = templates(&d).iter().any(|(_, _, t, _)| {
                is_subset(
                    selector,
                    t.metadata.as_ref().unwrap().labels.as_ref().unwrap(),
                )
            });
            assert!(
                matched,
                "Service {:?} selects no pods",
                service.metadata.name
            );
        }
    }
}

#[test]
fn no_replicas_under_an_hpa_and_hpas_target_existing_workloads() {
    for (yaml, d) in all_fixtures() {
        for hpa in &d.hpas {
            let target = &hpa.spec.scale_target_ref;
            let (_, _, _, replicas) = templates(&d)
                .into_iter()
                .find(|(name, ..)| *name == target.name)
                .unwrap_or_else(|| panic!("HPA target {} missing", target.name));
            assert_eq!(
                replicas, None,
                "{} sets replicas under an HPA in {yaml}",
                target.name
            );
        }
    }
}

#[test]
fn keda_provider_replaces_the_hpa_with_a_scaled_object() {
    let d = build(&validated(&keda_node()), &generated());
    let hpa_names: BTreeSet<_> = d
        .hpas
        .iter()
        .filter_map(|h| h.metadata.name.clone())
        .collect();
    assert_eq!(
        hpa_names,
        BTreeSet::from(["mainnet-jsonrpc".to_string()]),
        "no HPA of ours for keda-scaled services (KEDA makes its own)"
    );
    let scaled: BTreeSet<_> = d
        .scaled_objects
        .iter()
        .map(|s| s.spec.triggers[0].metadata["queueName"].clone())
        .collect();
    assert_eq!(
        scaled,
        BTreeSet::from([
            "koinos.rpc.block_store".to_string(),
            "koinos.rpc.mempool".to_string()
        ])
    );
    assert_eq!(d.trigger_authentications.len(), 1);
    let auth = &d.trigger_authentications[0];
    let amqp_secret = d
        .secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("mainnet-amqp-reader"))
        .expect("the operator's reader Secret (KEDA reads queue depths as the operator does)");
    let target = &auth.spec.secret_target_ref[0];
    assert_eq!(Some(&target.name), amqp_secret.metadata.name.as_ref());
    assert!(
        amqp_secret.data.as_ref().unwrap().contains_key(&target.key),
        "the TriggerAuthentication reads a key the Secret has"
    );
    for so in &d.scaled_objects {
        let trigger = &so.spec.triggers[0];
        assert_eq!(
            trigger.authentication_ref.as_ref().map(|a| &a.name),
            auth.metadata.name.as_ref()
        );
        let target = &so.spec.scale_target_ref;
        let (_, _, _, replicas) = templates(&d)
            .into_iter()
            .find(|(name, ..)| *name == target.name)
            .unwrap_or_else(|| panic!("ScaledObject target {} missing", target.name));
        assert_eq!(replicas, None, "{} sets replicas under KEDA", target.name);
    }
}

#[test]
fn singletons_never_surge() {
    for (_, d) in all_fixtures() {
        for name in ["chain", "block-producer", "p2p"] {
            let Some(sts) = d.stateful_sets.iter().find(|s| {
                s.metadata
                    .name
                    .as_deref()
                    .unwrap()
                    .ends_with(&format!("-{name}"))
            }) else {
                continue;
            };
            let spec = sts.spec.as_ref().unwrap();
            assert!(spec.replicas.unwrap() <= 1, "{name}");
            assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
        }
        assert!(d.deployments.iter().all(|dep| {
            let n = dep.metadata.name.as_deref().unwrap();
            !n.ends_with("-chain") && !n.ends_with("-p2p") && !n.ends_with("-block-producer")
        }));
    }
}

#[test]
fn secrets_never_in_config_maps() {
    let g = generated();
    let amqp = g.amqp.as_ref().unwrap();
    let wif = g.producer_key.as_ref().unwrap().to_wif();
    for (_, d) in all_fixtures() {
        for cm in &d.config_maps {
            let text = serde_yaml::to_string(cm).unwrap();
            for secret in [
                amqp.password.as_str(),
                amqp.erlang_cookie.as_str(),
                wif.as_str(),
                "p2p-seed-for-tests",
            ] {
                assert!(
                    !text.contains(secret),
                    "ConfigMap {:?} leaks a secret",
                    cm.metadata.name
                );
            }
        }
    }
}

#[test]
fn pods_are_locked_down() {
    for (_, d) in all_fixtures() {
        for (name, _, template, _) in templates(&d) {
            let spec = template.spec.as_ref().unwrap();
            let pod = spec.security_context.as_ref().unwrap();
            assert_eq!(pod.run_as_non_root, Some(true), "{name}");
            assert_eq!(
                pod.seccomp_profile.as_ref().unwrap().type_,
                "RuntimeDefault"
            );
            for c in spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
            {
                let sc = c.security_context.as_ref().unwrap();
                assert_eq!(
                    sc.read_only_root_filesystem,
                    Some(true),
                    "{name}/{}",
                    c.name
                );
                assert_eq!(sc.allow_privilege_escalation, Some(false));
                assert_eq!(
                    sc.capabilities.as_ref().unwrap().drop,
                    Some(vec!["ALL".to_string()])
                );
            }
        }
    }
}

#[test]
fn stopped_cluster_scales_everything_to_zero_and_keeps_volumes() {
    let d = build(&validated(&format!("{API_NODE}{STOPPED}")), &generated());
    assert!(
        d.hpas.is_empty(),
        "no HPA may scale a stopped cluster back up"
    );
    for (name, _, _, replicas) in templates(&d) {
        assert_eq!(replicas, Some(0), "{name}");
    }
    let store = d
        .stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("mainnet-block-store"))
        .unwrap();
    assert!(
        store
            .spec
            .as_ref()
            .unwrap()
            .volume_claim_templates
            .is_some()
    );
}

#[test]
fn pdbs_exactly_for_multi_replica_services() {
    let d = build(&validated(API_NODE), &generated());
    let names: BTreeSet<_> = d
        .pdbs
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    let expected: BTreeSet<_> = [
        "mainnet-rabbitmq",
        "mainnet-block-store",
        "mainnet-mempool",
        "mainnet-jsonrpc",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, expected);
    assert!(build(&validated(DEVNET), &generated()).pdbs.is_empty());
}

#[test]
fn external_broker_has_no_rabbitmq_and_uses_the_users_secret() {
    let d = build(&validated(EXTERNAL_BROKER), &generated());
    assert!(
        all_meta(&d)
            .iter()
            .all(|(_, m)| !m.name.as_deref().unwrap().contains("rabbitmq"))
    );
    assert!(
        d.secrets
            .iter()
            .all(|s| s.metadata.name.as_deref() != Some("ext-amqp"))
    );
    let env = &d.deployments[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .env;
    let url = env
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.name == workload::AMQP_URL_ENV)
        .unwrap();
    let secret = url
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (secret.name.as_str(), secret.key.as_str()),
        ("broker", "url")
    );
}

#[test]
fn render_without_generated_material_lists_what_is_pending() {
    let d = build(&validated(DEVNET), &Generated::default());
    assert!(d.secrets.is_empty());
    assert_eq!(
        d.pending_generated,
        [
            "ConfigMap/devnet-genesis",
            "Secret/devnet-producer-key",
            "Secret/devnet-amqp",
            "Secret/devnet-chain-amqp",
            "Secret/devnet-block-store-amqp",
            "Secret/devnet-mempool-amqp",
            "Secret/devnet-transaction-store-amqp",
            "Secret/devnet-contract-meta-store-amqp",
            "Secret/devnet-account-history-amqp",
            "Secret/devnet-block-producer-amqp",
            "Secret/devnet-jsonrpc-amqp",
            "Secret/devnet-grpc-amqp",
            "Secret/devnet-amqp-reader"
        ]
    );
}

#[test]
fn builders_are_deterministic() {
    let vc = validated(API_NODE);
    assert_eq!(build(&vc, &generated()), build(&vc, &generated()));
}

/// Records the kinds visited, in order.
struct Kinds(Vec<&'static str>);

impl Visitor for Kinds {
    type Error = std::convert::Infallible;

    async fn visit<K: Child>(&mut self, _: &[K]) -> Result<(), Self::Error> {
        self.0.push(K::KIND);
        Ok(())
    }
}

#[test]
fn visit_walks_every_kind_in_apply_or_cleanup_order() {
    use futures::FutureExt;
    let walk = |order| {
        let mut kinds = Kinds(Vec::new());
        let done = Desired::default().visit(order, &mut kinds).now_or_never();
        assert!(matches!(done, Some(Ok(()))));
        kinds.0
    };
    let head = [
        "ConfigMap",
        "Secret",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "StatefulSet",
        "Deployment",
        "HorizontalPodAutoscaler",
    ];
    let apply = [
        "TriggerAuthentication",
        "ScaledObject",
        "PodDisruptionBudget",
        "PodMonitor",
        "HTTPRoute",
        "GRPCRoute",
    ];
    let cleanup = [
        "PodDisruptionBudget",
        "ScaledObject",
        "TriggerAuthentication",
        "PodMonitor",
        "HTTPRoute",
        "GRPCRoute",
    ];
    assert_eq!(walk(Order::Apply), [&head[..], &apply[..]].concat());
    assert_eq!(walk(Order::Cleanup), [&head[..], &cleanup[..]].concat());
}
