//! The rendered `config.yml` of every service (official section and key names), in one
//! ConfigMap `<cluster>-config` with a key per service.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use super::meta::{content_hash, object_meta};
use crate::model::naming::config_map_name;
use crate::model::profile::{
    BASEDIR, GRPC_PORT, JSONRPC_PORT, P2P_PORT, ServiceInput, ServiceKind,
};
use crate::model::{DevnetConsensus, ValidatedCluster, ValidatedService};

/// Where the chain finds its genesis (a ConfigMap mounted read-only).
pub const GENESIS_DIR: &str = "/koinos/genesis";
pub const GENESIS_FILE: &str = "genesis_data.json";
/// Where the block producer finds its key (a Secret mounted read-only).
pub const SECRETS_DIR: &str = "/koinos/secrets";
pub const PRIVATE_KEY_FILE: &str = "private.key";
/// JSON-RPC methods refused unless the user configures a blacklist (docs/design.md "Security defaults").
pub const DEFAULT_JSONRPC_BLACKLIST: [&str; 2] = ["block_store.add_block", "chain.propose_block"];

/// ConfigMap key holding a service's `config.yml`.
pub fn config_key(svc: &ValidatedService) -> String {
    format!("{}.yml", svc.profile.section)
}

/// The operator's settings for a service section; user keys are merged over them, except
/// list options, which merge (the official precedence for lists).
fn operator_section(vc: &ValidatedCluster, svc: &ValidatedService) -> BTreeMap<String, Value> {
    let mut section = BTreeMap::new();
    // Where the pod template mounts the service's input (the seed comes as a flag).
    match svc.profile.input {
        Some(ServiceInput::Genesis) => {
            section.insert(
                "genesis-data".into(),
                json!(format!("{GENESIS_DIR}/{GENESIS_FILE}")),
            );
        }
        Some(ServiceInput::ProducerKey) => {
            section.insert(
                "private-key-file".into(),
                json!(format!("{SECRETS_DIR}/{PRIVATE_KEY_FILE}")),
            );
            if let Some(preset) = vc.network.preset() {
                section.insert("algorithm".into(), json!(preset.data().producer_algorithm));
            }
            if vc.network.is_pob_devnet() {
                section.insert("algorithm".into(), json!(DevnetConsensus::Pob.as_str()));
                // They derive from the producer address: unknown only where the key is (a
                // `render` without a cluster), and then the genesis is left out too.
                if let Some(contracts) = vc.devnet_pob_contracts() {
                    section.insert("pob-contract-id".into(), json!(contracts.pob.to_string()));
                    section.insert("vhp-contract-id".into(), json!(contracts.vhp.to_string()));
                }
            }
            // The producer waits for p2p to report gossip before producing; without p2p in the
            // cluster nothing ever would (a single-node devnet), so it produces at once.
            if vc.service(ServiceKind::P2p).is_none() {
                section.insert("gossip-production".into(), json!(false));
            }
        }
        Some(ServiceInput::NodeSeed) | None => {}
    }
    match svc.kind() {
        ServiceKind::Jsonrpc => {
            section.insert(
                "listen".into(),
                json!(format!("/ip4/0.0.0.0/tcp/{}", JSONRPC_PORT.port)),
            );
            let user_blacklist = vc
                .config
                .get("jsonrpc")
                .and_then(|s| s.get("blacklist"))
                .is_some()
                || vc
                    .config
                    .get("global")
                    .and_then(|s| s.get("blacklist"))
                    .is_some();
            if !user_blacklist {
                section.insert("blacklist".into(), json!(DEFAULT_JSONRPC_BLACKLIST));
            }
        }
        ServiceKind::Grpc => {
            section.insert(
                "endpoint".into(),
                json!(format!("0.0.0.0:{}", GRPC_PORT.port)),
            );
        }
        ServiceKind::P2p => {
            section.insert(
                "listen".into(),
                json!(format!("/ip4/0.0.0.0/tcp/{}", P2P_PORT.port)),
            );
            if !svc.seeds.is_empty() {
                section.insert("peer".into(), json!(svc.seeds));
            } else if vc.service(ServiceKind::BlockProducer).is_some() {
                // A producing node with no peer to dial is its network's origin: p2p turns
                // gossip on only with a peer and a recent head, so the producer (which waits
                // for gossip) would never make the first block. Its gossip is on from the start.
                section.insert("force-gossip".into(), json!(true));
            }
            // Ours only: the official node has no such option.
            if let Some(announce) = svc.announce.as_ref().filter(|_| svc.services_image) {
                section.insert("external-address".into(), json!([announce]));
            }
        }
        _ => {}
    }
    section
}

fn merge_section(base: &mut BTreeMap<String, Value>, user: Option<&BTreeMap<String, Value>>) {
    for (key, value) in user.into_iter().flatten() {
        match (base.get_mut(key), value) {
            (Some(Value::Array(existing)), Value::Array(extra)) => {
                for item in extra {
                    if !existing.contains(item) {
                        existing.push(item.clone());
                    }
                }
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The `config.yml` text of one service: `global` plus the service's own section.
pub fn render_service_config(vc: &ValidatedCluster, svc: &ValidatedService) -> String {
    let mut global = BTreeMap::from([("log-level".to_string(), json!("info"))]);
    // A public network's fork choice, for every service that takes it (the official config
    // sets it in `global` too).
    if let Some(preset) = vc.network.preset() {
        global.insert("fork-algorithm".into(), json!(preset.data().fork_algorithm));
    }
    // A pob devnet's too: its blocks compete by the pob rule.
    if vc.network.is_pob_devnet() {
        global.insert("fork-algorithm".into(), json!("pob"));
    }
    merge_section(&mut global, vc.config.get("global"));
    let mut own = operator_section(vc, svc);
    merge_section(&mut own, vc.config.get(svc.profile.section));
    let mut doc = BTreeMap::from([("global".to_string(), global)]);
    if !own.is_empty() {
        doc.insert(svc.profile.section.to_string(), own);
    }
    let body = serde_yaml::to_string(&doc).expect("config serializes");
    format!(
        "# Rendered by koinos-operator for {} (basedir {BASEDIR}).\n{body}",
        svc.profile.section
    )
}

/// Pod-template annotation value: changes exactly when the service's config.yml changes.
pub fn config_hash(vc: &ValidatedCluster, svc: &ValidatedService) -> String {
    content_hash(render_service_config(vc, svc).as_bytes())
}

pub fn build_config_map(vc: &ValidatedCluster) -> ConfigMap {
    let data = vc
        .services
        .iter()
        .map(|svc| (config_key(svc), render_service_config(vc, svc)))
        .collect();
    ConfigMap {
        metadata: object_meta(vc, config_map_name(vc), "config"),
        data: Some(data),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{API_NODE, DEVNET, HARBINGER, MAINNET, validated};

    /// Option `key` of `kind`'s own section in its rendered config.yml (the cluster of
    /// `manifest` runs `kind`).
    fn rendered_option(manifest: &str, kind: ServiceKind, key: &str) -> Option<Value> {
        let vc = validated(manifest);
        let svc = vc.service(kind).unwrap();
        let doc: BTreeMap<String, BTreeMap<String, Value>> =
            serde_yaml::from_str(&render_service_config(&vc, svc)).unwrap();
        doc[svc.profile.section].get(key).cloned()
    }

    #[test]
    fn the_producer_waits_for_gossip_only_when_the_cluster_runs_p2p() {
        let gossip_production = |manifest: &str| {
            rendered_option(manifest, ServiceKind::BlockProducer, "gossip-production")
        };
        let without_p2p = DEVNET.to_string() + "  services:\n    p2p: {enabled: false}\n";
        assert_eq!(gossip_production(&without_p2p), Some(json!(false)));
        let with_p2p = DEVNET.to_string() + "  services:\n    p2p: {enabled: true}\n";
        assert_eq!(gossip_production(&with_p2p), None);
    }

    #[test]
    fn a_producing_node_without_seeds_forces_gossip_on() {
        let force_gossip =
            |manifest: &str| rendered_option(manifest, ServiceKind::P2p, "force-gossip");
        let origin = DEVNET.to_string() + "  services:\n    p2p: {enabled: true}\n";
        assert_eq!(force_gossip(&origin), Some(json!(true)));
        // a second producer joining through a seed syncs first: gossip follows sync state
        let joining = DEVNET.to_string()
            + "  services:\n    p2p: {enabled: true, seeds: [/dns4/a/tcp/8888/p2p/QmA]}\n";
        assert_eq!(force_gossip(&joining), None);
        let follower = DEVNET.to_string()
            + "  services:\n    p2p: {enabled: true}\n    blockProducer: {enabled: false}\n";
        assert_eq!(force_gossip(&follower), None);
        // the user's own setting wins
        let user = origin + "  config:\n    p2p: {force-gossip: false}\n";
        assert_eq!(force_gossip(&user), Some(json!(false)));
    }

    #[test]
    fn preset_networks_set_fork_choice_producer_algorithm_and_seeds() {
        let manifest = format!(
            "{MAINNET}  services:\n    blockProducer: {{enabled: true, privateKeySecretRef: {{name: k, key: wif}}}}\n"
        );
        let vc = validated(&manifest);
        let doc = |kind| -> BTreeMap<String, BTreeMap<String, Value>> {
            serde_yaml::from_str(&render_service_config(&vc, vc.service(kind).unwrap())).unwrap()
        };
        for kind in [
            ServiceKind::Chain,
            ServiceKind::Mempool,
            ServiceKind::AccountHistory,
        ] {
            assert_eq!(
                doc(kind)["global"]["fork-algorithm"],
                json!("pob"),
                "{kind}"
            );
        }
        assert_eq!(
            doc(ServiceKind::BlockProducer)["block_producer"]["algorithm"],
            json!("pob")
        );
        let peers = &doc(ServiceKind::P2p)["p2p"]["peer"];
        assert_eq!(peers.as_array().unwrap().len(), 5);
        assert!(
            peers[0]
                .as_str()
                .unwrap()
                .starts_with("/dns4/seed.koinosblocks.com/")
        );

        // The user's global setting and seeds win.
        let custom = validated(&format!(
            "{MAINNET}  config: {{global: {{fork-algorithm: fifo}}}}\n  services:\n    p2p: {{seeds: [/dns4/mine/tcp/8888/p2p/QmMine]}}\n"
        ));
        let p2p = render_service_config(&custom, custom.service(ServiceKind::P2p).unwrap());
        assert!(
            p2p.contains("fork-algorithm: fifo") && p2p.contains("QmMine"),
            "{p2p}"
        );
        assert!(!p2p.contains("koinosblocks"), "{p2p}");

        // A devnet keeps the services' default (fifo) and its federated producer.
        let devnet = validated(DEVNET);
        let chain = render_service_config(&devnet, devnet.service(ServiceKind::Chain).unwrap());
        assert!(!chain.contains("fork-algorithm"), "{chain}");
    }

    #[test]
    fn a_pob_devnet_runs_the_pob_producer_and_fork_choice() {
        let key = crate::test_support::generated().producer_key.unwrap();
        let pob = validated(&DEVNET.replace(
            "network: {devnet: {}}",
            "network: {devnet: {consensus: pob}}",
        ));
        let pob = pob.with_devnet_producer(Some(&key));
        let doc = |vc: &ValidatedCluster, kind| -> BTreeMap<String, BTreeMap<String, Value>> {
            serde_yaml::from_str(&render_service_config(vc, vc.service(kind).unwrap())).unwrap()
        };
        let contracts = koinos_protocol::devnet::pob::PobContracts::of(key.address().as_bytes());
        let producer = &doc(&pob, ServiceKind::BlockProducer)["block_producer"];
        assert_eq!(producer["algorithm"], json!("pob"));
        assert_eq!(
            producer["pob-contract-id"],
            json!(contracts.pob.to_string())
        );
        assert_eq!(
            producer["vhp-contract-id"],
            json!(contracts.vhp.to_string())
        );
        for kind in [
            ServiceKind::Chain,
            ServiceKind::Mempool,
            ServiceKind::AccountHistory,
        ] {
            assert_eq!(
                doc(&pob, kind)["global"]["fork-algorithm"],
                json!("pob"),
                "{kind}"
            );
        }
        // Without the key (a `render` without a cluster) the ids are left out, not guessed.
        let unknown = validated(&DEVNET.replace(
            "network: {devnet: {}}",
            "network: {devnet: {consensus: pob}}",
        ));
        let producer = &doc(&unknown, ServiceKind::BlockProducer)["block_producer"];
        assert_eq!(producer["algorithm"], json!("pob"));
        assert!(!producer.contains_key("pob-contract-id"));
        // A federated devnet keeps the defaults (federated producer, fifo fork choice).
        let federated = validated(DEVNET);
        let federated = federated.with_devnet_producer(Some(&key));
        let producer = &doc(&federated, ServiceKind::BlockProducer)["block_producer"];
        assert!(!producer.contains_key("algorithm") && !producer.contains_key("pob-contract-id"));
        assert!(!doc(&federated, ServiceKind::Chain)["global"].contains_key("fork-algorithm"));
        // The user's settings still win.
        let user = validated(&format!(
            "{}  config: {{global: {{fork-algorithm: block-time}}}}\n",
            DEVNET.replace(
                "network: {devnet: {}}",
                "network: {devnet: {consensus: pob}}"
            )
        ));
        assert_eq!(
            doc(&user, ServiceKind::Chain)["global"]["fork-algorithm"],
            json!("block-time")
        );
    }

    #[test]
    fn preset_config_map_snapshot() {
        insta::assert_yaml_snapshot!(build_config_map(&validated(HARBINGER)));
    }

    #[test]
    fn config_map_snapshot() {
        insta::assert_yaml_snapshot!(build_config_map(&validated(API_NODE)));
    }

    #[test]
    fn every_enabled_service_has_a_config_and_nothing_secret() {
        let vc = validated(DEVNET);
        let cm = build_config_map(&vc);
        let data = cm.data.unwrap();
        assert_eq!(data.len(), vc.services.len());
        for text in data.values() {
            let doc: BTreeMap<String, BTreeMap<String, Value>> =
                serde_yaml::from_str(text).unwrap();
            assert!(doc.contains_key("global"));
            for section in doc.values() {
                for key in ["amqp", "seed", "password"] {
                    assert!(
                        !section.contains_key(key),
                        "secret-bearing key {key} in {text}"
                    );
                }
            }
            assert!(
                !text.contains("amqp://"),
                "no broker URL in a ConfigMap: {text}"
            );
        }
    }

    #[test]
    fn jsonrpc_blacklists_by_default_and_user_config_wins() {
        let vc = validated(DEVNET);
        let jsonrpc = vc.service(ServiceKind::Jsonrpc).unwrap();
        let text = render_service_config(&vc, jsonrpc);
        assert!(
            text.contains("block_store.add_block") && text.contains("chain.propose_block"),
            "{text}"
        );

        let custom = validated(&format!(
            "{DEVNET}  config: {{jsonrpc: {{blacklist: [mempool]}}}}\n"
        ));
        let text = render_service_config(&custom, custom.service(ServiceKind::Jsonrpc).unwrap());
        assert!(
            !text.contains("add_block") && text.contains("mempool"),
            "{text}"
        );
    }

    #[test]
    fn config_hash_follows_only_the_services_own_config() {
        let base = validated(DEVNET);
        let changed = validated(&format!(
            "{DEVNET}  config: {{mempool: {{transaction-expiration: 60}}}}\n"
        ));
        let hash = |vc: &ValidatedCluster, kind| config_hash(vc, vc.service(kind).unwrap());
        assert_ne!(
            hash(&base, ServiceKind::Mempool),
            hash(&changed, ServiceKind::Mempool)
        );
        assert_eq!(
            hash(&base, ServiceKind::Chain),
            hash(&changed, ServiceKind::Chain)
        );
    }

    #[test]
    fn p2p_announces_the_configured_address_or_its_load_balancers() {
        use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};

        use crate::controller::build::build;
        use crate::controller::build::meta::ANNOTATION_CONFIG_HASH;
        use crate::test_support::generated;

        let configured = validated(&format!(
            "{DEVNET}  services:\n    p2p: {{enabled: true, announce: p2p.example.com}}\n"
        ));
        let text =
            render_service_config(&configured, configured.service(ServiceKind::P2p).unwrap());
        assert!(
            text.contains("external-address:\n  - /dns/p2p.example.com/tcp/8888"),
            "{text}"
        );
        let official = format!(
            "{DEVNET}  services:\n    p2p: {{enabled: true, announce: p2p.example.com, image: koinos/koinos-p2p:v1.0.0}}\n"
        );
        let option = rendered_option(&official, ServiceKind::P2p, "external-address");
        assert_eq!(option, None, "the official node has no such option");

        // The LoadBalancer's address is an input of `build`; a new address rolls p2p alone.
        let on_lb = validated(&format!(
            "{DEVNET}  services:\n    p2p: {{enabled: true, service: {{type: LoadBalancer}}}}\n"
        ));
        let with_address = |ip: Option<&str>| {
            let mut generated = generated();
            generated.p2p_load_balancer = ip.map(|ip| LoadBalancerStatus {
                ingress: Some(vec![LoadBalancerIngress {
                    ip: Some(ip.into()),
                    ..Default::default()
                }]),
            });
            let desired = build(&on_lb, &generated);
            let config = desired.config_maps[0].data.clone().unwrap();
            let hashes: BTreeMap<String, String> = desired
                .stateful_sets
                .iter()
                .map(|s| {
                    (
                        s.metadata.name.clone().unwrap(),
                        s.spec.as_ref().unwrap().template.clone(),
                    )
                })
                .chain(desired.deployments.iter().map(|d| {
                    (
                        d.metadata.name.clone().unwrap(),
                        d.spec.as_ref().unwrap().template.clone(),
                    )
                }))
                .map(|(name, template)| {
                    let annotations = template.metadata.unwrap().annotations.unwrap_or_default();
                    (
                        name,
                        annotations
                            .get(ANNOTATION_CONFIG_HASH)
                            .cloned()
                            .unwrap_or_default(),
                    )
                })
                .collect();
            (config["p2p.yml"].clone(), hashes)
        };
        let (waiting, waiting_hashes) = with_address(None);
        assert!(!waiting.contains("external-address"), "{waiting}");
        let (first, first_hashes) = with_address(Some("203.0.113.7"));
        assert!(
            first.contains("external-address:\n  - /ip4/203.0.113.7/tcp/8888"),
            "{first}"
        );
        let (second, second_hashes) = with_address(Some("203.0.113.8"));
        assert!(second.contains("/ip4/203.0.113.8/tcp/8888"), "{second}");
        for (name, hash) in &first_hashes {
            let rolled = [&waiting_hashes[name], &second_hashes[name]]
                .iter()
                .any(|other| *other != hash);
            assert_eq!(rolled, name == "devnet-p2p", "{name}");
        }
    }

    #[test]
    fn p2p_seeds_become_official_peer_option() {
        let vc = validated(API_NODE);
        let text = render_service_config(&vc, vc.service(ServiceKind::P2p).unwrap());
        assert!(
            text.contains("peer:") && text.contains("/dns4/seed.koinos.io"),
            "{text}"
        );
        assert!(text.contains("listen: /ip4/0.0.0.0/tcp/8888"), "{text}");
    }
}
