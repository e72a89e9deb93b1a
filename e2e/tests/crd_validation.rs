//! The API server enforces the KoinosCluster schema and CEL rules from `crds/koinoscluster.yaml`:
//! invalid objects are rejected with a message naming the offending field, and updates that
//! shrink storage or change the chain are refused.

use anyhow::{Context, Result, ensure};
use koinos_e2e::koinos::{expect_refused_naming_fields, rejection};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, install_crd};
use serde_json::{Value, json};

fn cluster(name: &str, spec: Value) -> Value {
    json!({"metadata": {"name": name}, "spec": spec})
}

fn devnet(extra: Value) -> Value {
    let mut spec = json!({"network": {"devnet": {}}});
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    spec
}

/// `(case, spec, substring the rejection message must contain)`.
fn invalid_specs() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("no network", json!({}), "spec.network"),
        (
            "both genesis and devnet",
            json!({"network": {"devnet": {}, "genesis": {"configMapRef": {"name": "g"}}}}),
            "spec.network",
        ),
        (
            "neither genesis nor devnet",
            json!({"network": {}}),
            "spec.network",
        ),
        (
            "mainnet and harbinger",
            json!({"network": {"mainnet": {}, "harbinger": {}}}),
            "spec.network: set exactly one of mainnet, harbinger, genesis or devnet",
        ),
        (
            "mainnet and devnet",
            json!({"network": {"mainnet": {}, "devnet": {}}}),
            "spec.network: set exactly one",
        ),
        (
            "empty genesis ConfigMap name of a preset",
            json!({"network": {"harbinger": {"genesisConfigMapRef": {"name": ""}}}}),
            "spec.network.harbinger.genesisConfigMapRef.name",
        ),
        (
            "empty genesis ConfigMap name",
            json!({"network": {"genesis": {"configMapRef": {"name": ""}}}}),
            "spec.network.genesis.configMapRef.name",
        ),
        (
            "managed and external broker",
            devnet(
                json!({"amqp": {"managed": {}, "external": {"urlSecretRef": {"name": "a", "key": "url"}}}}),
            ),
            "spec.amqp",
        ),
        (
            "zero broker replicas",
            devnet(json!({"amqp": {"managed": {"replicas": 0}}})),
            "spec.amqp.managed.replicas",
        ),
        (
            "two chain replicas",
            devnet(json!({"services": {"chain": {"replicas": 2}}})),
            "spec.services.chain",
        ),
        (
            "autoscaled block producer",
            devnet(json!({"services": {"blockProducer": {"autoscaling": {"enabled": true}}}})),
            "spec.services.blockProducer",
        ),
        (
            "three p2p replicas",
            devnet(json!({"services": {"p2p": {"replicas": 3}}})),
            "spec.services.p2p",
        ),
        (
            "autoscaling floor above ceiling",
            devnet(
                json!({"services": {"blockStore": {"autoscaling": {"enabled": true, "minReplicas": 5, "maxReplicas": 2}}}}),
            ),
            "minReplicas",
        ),
        (
            "storage size not a quantity",
            devnet(json!({"services": {"blockStore": {"storage": {"size": "lots"}}}})),
            "storage.size",
        ),
        (
            "storage on the in-memory mempool",
            devnet(json!({"services": {"mempool": {"storage": {"size": "1Gi"}}}})),
            "spec.services.mempool.storage",
        ),
        (
            "keda on a CPU-scaled gateway",
            devnet(
                json!({"services": {"grpc": {"autoscaling": {"enabled": true, "provider": "keda"}}}}),
            ),
            "spec.services.grpc.autoscaling.provider",
        ),
        (
            "negative replicas",
            devnet(json!({"services": {"blockStore": {"replicas": -1}}})),
            "spec.services.blockStore.replicas",
        ),
        (
            "unknown pull policy",
            devnet(json!({"image": {"pullPolicy": "Sometimes"}})),
            "spec.image.pullPolicy",
        ),
        (
            "service port out of range",
            devnet(json!({"services": {"jsonrpc": {"service": {"port": 70000}}}})),
            "spec.services.jsonrpc.service.port",
        ),
        (
            "a Service type on a service without a client port",
            devnet(json!({"services": {"blockStore": {"service": {"type": "LoadBalancer"}}}})),
            "spec.services.blockStore.service: blockStore serves no client port",
        ),
        (
            "a CPU target on a queue-depth-scaled store",
            devnet(
                json!({"services": {"accountHistory": {"autoscaling": {"enabled": true, "targetCpuUtilizationPercentage": 60}}}}),
            ),
            "spec.services.accountHistory.autoscaling.targetCpuUtilizationPercentage",
        ),
        (
            "a queue-depth target on a CPU-scaled gateway",
            devnet(json!({"services": {"jsonrpc": {"autoscaling": {"targetQueueDepth": 5}}}})),
            "spec.services.jsonrpc.autoscaling.targetQueueDepth",
        ),
        (
            "a private key on the chain",
            devnet(
                json!({"services": {"chain": {"privateKeySecretRef": {"name": "k", "key": "wif"}}}}),
            ),
            "spec.services.chain.privateKeySecretRef",
        ),
        (
            "seeds on mempool",
            devnet(json!({"services": {"mempool": {"seeds": ["/dns4/a/tcp/8888/p2p/QmA"]}}})),
            "spec.services.mempool.seeds",
        ),
        (
            "a selector label in podOverrides",
            devnet(
                json!({"services": {"jsonrpc": {"podOverrides": {"labels": {"app.kubernetes.io/name": "x"}}}}}),
            ),
            "spec.services.jsonrpc.podOverrides",
        ),
        (
            "unknown retention policy",
            devnet(json!({"services": {"chain": {"storage": {"retentionPolicy": "Maybe"}}}})),
            "spec.services.chain.storage.retentionPolicy",
        ),
        (
            "a data source naming both a snapshot and a volume",
            devnet(
                json!({"services": {"blockStore": {"storage": {"dataSource": {"volumeSnapshot": "s", "persistentVolumeClaim": "p"}}}}}),
            ),
            "spec.services.blockStore.storage.dataSource",
        ),
        (
            "a data source naming no object",
            devnet(
                json!({"services": {"chain": {"storage": {"dataSource": {"volumeSnapshot": "Not_A_Name"}}}}}),
            ),
            "spec.services.chain.storage.dataSource.volumeSnapshot",
        ),
        (
            "a PodMonitor interval that is no Prometheus duration",
            devnet(json!({"monitoring": {"podMonitor": {"enabled": true, "interval": "soon"}}})),
            "spec.monitoring.podMonitor.interval",
        ),
        (
            "the operator's own label on the PodMonitor",
            devnet(
                json!({"monitoring": {"podMonitor": {"enabled": true, "labels": {"app.kubernetes.io/instance": "x"}}}}),
            ),
            "spec.monitoring.podMonitor.labels",
        ),
        (
            "a Gateway API route on a service without HTTP",
            devnet(json!({"services": {"mempool": {"route": {"parentRefs": [{"name": "gw"}]}}}})),
            "spec.services.mempool.route",
        ),
        (
            "a path on grpc's route",
            devnet(
                json!({"services": {"grpc": {"route": {"parentRefs": [{"name": "gw"}], "path": "/x"}}}}),
            ),
            "spec.services.grpc.route.path",
        ),
        (
            "a route attached to no Gateway",
            devnet(json!({"services": {"jsonrpc": {"route": {"parentRefs": []}}}})),
            "spec.services.jsonrpc.route.parentRefs",
        ),
        (
            "a route hostname that is no DNS name",
            devnet(
                json!({"services": {"jsonrpc": {"route": {"parentRefs": [{"name": "gw"}], "hostnames": ["RPC.example.com"]}}}}),
            ),
            "spec.services.jsonrpc.route.hostnames[0]",
        ),
    ]
}

#[tokio::test]
async fn invalid_clusters_are_rejected_naming_the_field() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_crd(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "invalid").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);

    // The positive control: a minimal devnet is accepted, so rejections below are the rules'.
    kcs.create(cluster("valid", devnet(json!({}))))
        .await
        .context("a minimal devnet")?;

    expect_refused_naming_fields(&kcs, invalid_specs()).await?;
    ns.delete().await
}

#[tokio::test]
async fn storage_can_grow_but_not_shrink() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_crd(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "storage").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let storage = |size: &str| json!({"services": {"blockStore": {"storage": {"size": size}}}});
    kcs.create(cluster("grow", devnet(storage("100Gi"))))
        .await?;

    let (code, message) = rejection(kcs.patch_spec("grow", storage("50Gi")).await)?;
    ensure!(
        code == 422 && message.contains("storage.size"),
        "shrink: {code} {message}"
    );
    kcs.patch_spec("grow", storage("200Gi"))
        .await
        .context("growing storage")?;
    let (code, message) = rejection(
        kcs.patch_spec("grow", json!({"services": {"blockStore": {"storage": {"size": "200Gi", "storageClassName": "other"}}}})).await,
    )?;
    ensure!(
        code == 422 && message.contains("storageClassName"),
        "class change: {code} {message}"
    );
    ns.delete().await
}

#[tokio::test]
async fn the_chain_cannot_change() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_crd(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "genesis").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let genesis = |name: &str| json!({"genesis": {"configMapRef": {"name": name}}});
    kcs.create(cluster(
        "mainnet",
        json!({"network": genesis("mainnet-genesis")}),
    ))
    .await?;

    let (code, message) = rejection(
        kcs.patch_spec("mainnet", json!({"network": genesis("other-genesis")}))
            .await,
    )?;
    ensure!(
        code == 422 && message.contains("spec.network"),
        "genesis change: {code} {message}"
    );
    let (code, message) = rejection(
        kcs.patch_spec(
            "mainnet",
            json!({"network": {"genesis": null, "devnet": {}}}),
        )
        .await,
    )?;
    ensure!(
        code == 422 && message.contains("spec.network"),
        "to devnet: {code} {message}"
    );
    // Other edits still go through: the rule guards the chain only.
    kcs.patch_spec(
        "mainnet",
        json!({"services": {"blockStore": {"replicas": 2}}}),
    )
    .await?;
    ns.delete().await
}

#[tokio::test]
async fn a_preset_network_cannot_be_switched() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_crd(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "preset").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    kcs.create(cluster("node", json!({"network": {"mainnet": {}}})))
        .await
        .context("a minimal mainnet node")?;
    kcs.create(cluster("testnet", json!({"network": {"harbinger": {}}})))
        .await
        .context("a minimal harbinger node")?;

    for (case, network) in [
        ("to harbinger", json!({"mainnet": null, "harbinger": {}})),
        ("to devnet", json!({"mainnet": null, "devnet": {}})),
        (
            "to a genesis ConfigMap",
            json!({"mainnet": {"genesisConfigMapRef": {"name": "g"}}}),
        ),
    ] {
        let (code, message) =
            rejection(kcs.patch_spec("node", json!({ "network": network })).await)?;
        ensure!(
            code == 422
                && message.contains("spec.network")
                && message.contains("a cluster cannot switch networks"),
            "{case}: {code} {message}"
        );
    }
    ns.delete().await
}
