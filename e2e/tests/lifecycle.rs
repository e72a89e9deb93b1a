//! Day-2 operations on a running cluster: replicas edits, pause, stop, deletion. The replicas
//! test runs a proof-of-burn devnet and first checks what the operator made of it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use koinos_e2e::children::{INSTANCE_LABEL, children};
use koinos_e2e::fixtures::{
    CONVERGE_TIMEOUT, is_workload, wait_condition, wait_workloads_ready, workload_replicas,
};
use koinos_e2e::install::install_operator;
use koinos_e2e::operator::Operator;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use koinos_operator::controller::build::devnet::devnet_genesis;
use koinos_operator::model::{DevnetConsensus, DevnetToken};
use koinos_protocol::chain::GenesisData;
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::devnet::pob::{
    self, DEFAULT_TARGET_BLOCK_INTERVAL_MS, GET_METADATA_ENTRY_POINT, QUANTUM_LENGTH_MS,
};
use koinos_protocol::genesis::genesis_from_json;
use koinos_protocol::pb::koinos::contracts::pob::GetMetadataResult;
use koinos_protocol::pb::koinos::protocol::{Block, BlockHeader};
use koinos_services::block_producer::pob::{RoundData, first_quantum, winning_quantum};
use koinos_services::chain::{Chain, ForkAlgorithm};
use koinos_services::devnet::{self, Consensus, DevnetSpec};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client, ResourceExt};
use prost::Message;
use serde_json::{Value, json};

/// A running devnet in a fresh namespace, with its operator.
struct Running {
    cp: ControlPlane,
    ns: TestNamespace,
    kcs: KoinosClusters,
    operator: Operator,
    name: String,
}

async fn running_devnet(prefix: &str, spec_extra: Value) -> Result<Running> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ns = TestNamespace::create(&cp.client, prefix).await?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let name = prefix.to_owned();
    let mut spec = json!({"network": {"devnet": {}}});
    spec.as_object_mut()
        .unwrap()
        .extend(spec_extra.as_object().cloned().unwrap_or_default());
    kcs.apply(&name, json!({"metadata": {"name": name}, "spec": spec}))
        .await?;
    wait_condition(&kcs, &name, "Ready", "True").await?;
    wait_workloads_ready(&cp.client, &ns.name, &name).await?;
    Ok(Running {
        cp,
        ns,
        kcs,
        operator,
        name,
    })
}

/// Waits until workload `Kind/name` wants `replicas` and has them all Ready.
async fn wait_replicas(
    client: &Client,
    ns: &str,
    cluster: &str,
    key: &str,
    replicas: i64,
) -> Result<()> {
    wait_until(
        &format!("{key} at {replicas} Ready replicas"),
        CONVERGE_TIMEOUT,
        || async {
            let found = children(client, ns, cluster).await?;
            let child = found
                .iter()
                .find(|c| c.key() == key)
                .with_context(|| format!("{key} missing"))?;
            Ok((workload_replicas(child) == (replicas, replicas)).then_some(()))
        },
    )
    .await
}

async fn spec_replicas(client: &Client, ns: &str, cluster: &str, key: &str) -> Result<i64> {
    let found = children(client, ns, cluster).await?;
    let child = found
        .iter()
        .find(|c| c.key() == key)
        .with_context(|| format!("{key} missing"))?;
    Ok(workload_replicas(child).0)
}

async fn pvc_names(client: &Client, ns: &str, cluster: &str) -> Result<BTreeSet<String>> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let list = pvcs
        .list(&ListParams::default().labels(&format!("{INSTANCE_LABEL}={cluster}")))
        .await?;
    let unbound: Vec<_> = list
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound"))
        .map(ResourceExt::name_any)
        .collect();
    ensure!(unbound.is_empty(), "PVCs not Bound: {unbound:?}");
    Ok(list.items.iter().map(ResourceExt::name_any).collect())
}

/// Option `key` of `section` in the service config `file` of the cluster's config ConfigMap.
fn config_option(config: &ConfigMap, file: &str, section: &str, key: &str) -> Result<Value> {
    let text = config
        .data
        .as_ref()
        .and_then(|d| d.get(file))
        .with_context(|| format!("config ConfigMap without {file}"))?;
    let doc: Value = serde_yaml::from_str(text)?;
    Ok(doc[section][key].clone())
}

/// A pob devnet's children: its genesis is what `koinos-devnet init --consensus pob` writes for
/// the same producer key (same metadata, same pob entries; init's token id and funded account
/// are its own), its configs run the pob producer with init's contract ids and the pob fork
/// choice, and a chain opened on that genesis accepts a block the producer's code wins and signs.
async fn assert_pob_children(r: &Running) -> Result<()> {
    let config_maps: Api<ConfigMap> = Api::namespaced(r.cp.client.clone(), &r.ns.name);
    let secrets: Api<Secret> = Api::namespaced(r.cp.client.clone(), &r.ns.name);
    let genesis_map = config_maps.get(&format!("{}-genesis", r.name)).await?;
    let data = genesis_map.data.context("genesis ConfigMap without data")?;
    let secret = secrets.get(&format!("{}-producer-key", r.name)).await?;
    let wif = secret
        .data
        .as_ref()
        .and_then(|d| d.get("private.key"))
        .context("producer key Secret without private.key")?;
    let wif = String::from_utf8(wif.0.clone())?;
    let key = PrivateKey::from_wif(&wif)?;
    let genesis = genesis_from_json(&data["genesis_data.json"])?;

    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("block_producer"))?;
    std::fs::write(dir.path().join("block_producer/private.key"), &wif)?;
    let info = devnet::init(
        dir.path(),
        &DevnetSpec {
            block_interval_ms: DEFAULT_TARGET_BLOCK_INTERVAL_MS,
            consensus: Consensus::Pob,
            ..DevnetSpec::default()
        },
    )?;
    let init_genesis = genesis_from_json(&std::fs::read_to_string(
        dir.path().join("chain/genesis_data.json"),
    )?)?;
    ensure!(info.producer_address == key.address().to_string());
    ensure!(
        data.get("consensus").map(String::as_str) == Some("pob"),
        "{data:?}"
    );
    ensure!(info.pob_contract_id.as_ref() == data.get("pob-contract-id"));
    ensure!(info.vhp_contract_id.as_ref() == data.get("vhp-contract-id"));
    // The metadata (genesis key first) and the pob entries, which close the genesis.
    let pob_entries =
        pob::genesis_entries(&[], &[], &[pob::PobProducer::from_key(&key, 0)], 0).len();
    let tail = |g: &GenesisData| g.entries[g.entries.len() - pob_entries..].to_vec();
    ensure!(
        genesis.entries[..4] == init_genesis.entries[..4],
        "metadata differ from init's"
    );
    ensure!(
        tail(&genesis) == tail(&init_genesis),
        "pob entries differ from init's"
    );

    let config = config_maps.get(&format!("{}-config", r.name)).await?;
    let producer = |k: &str| config_option(&config, "block_producer.yml", "block_producer", k);
    ensure!(producer("algorithm")? == json!("pob"));
    ensure!(producer("pob-contract-id")? == json!(info.pob_contract_id));
    ensure!(producer("vhp-contract-id")? == json!(info.vhp_contract_id));
    for file in ["chain.yml", "mempool.yml", "account_history.yml"] {
        ensure!(
            config_option(&config, file, "global", "fork-algorithm")? == json!("pob"),
            "{file}"
        );
    }

    // The producer's search and signature, on a chain opened on the operator's genesis; and
    // on the operator's pob genesis with the native token, which pob works with too.
    let pob_id = bs58_decode(&data["pob-contract-id"])?;
    let after = first_block_accepted(&genesis, &key, &pob_id)?;
    let native = devnet_genesis(&key, DevnetToken::Native, DevnetConsensus::Pob);
    first_block_accepted(&native, &key, &pob_id).context("the native token's pob genesis")?;
    eprintln!(
        "[e2e] pob devnet: genesis and configs match koinos-devnet init's; block 1 ({after} ms after the first quantum) accepted"
    );
    Ok(())
}

/// Opens a chain on `genesis` and submits block 1 as the pob producer makes it (its quantum
/// search, `key`'s VRF proof and signature); the block's time after the first quantum.
fn first_block_accepted(genesis: &GenesisData, key: &PrivateKey, pob_id: &[u8]) -> Result<u64> {
    let chain_dir = tempfile::tempdir()?;
    let mut chain = Chain::open(chain_dir.path(), genesis, ForkAlgorithm::Pob)?;
    let (metadata, _) = chain.read_contract(pob_id, GET_METADATA_ENTRY_POINT, &[])?;
    let metadata = GetMetadataResult::decode(metadata.as_slice())?
        .value
        .context("pob metadata")?;
    let round = RoundData {
        seed: metadata.seed.clone(),
        difficulty: metadata.difficulty,
        quantum_length: QUANTUM_LENGTH_MS.into(),
        vhp: pob::vhp_for_interval(DEFAULT_TARGET_BLOCK_INTERVAL_MS),
    };
    let start = first_quantum(1_700_000_000_001, round.quantum_length);
    // One quantum in 300 wins on average.
    let quantum = winning_quantum(key, &round, start, 30_000).context("no winning quantum")?;
    let head = chain.head().clone();
    let mut block = Block {
        header: Some(BlockHeader {
            previous: head.id,
            height: head.height + 1,
            timestamp: quantum,
            previous_state_merkle_root: head.state_merkle_root,
            signer: key.address().to_vec(),
            ..Default::default()
        }),
        ..Default::default()
    };
    pob::sign_block(&mut block, key, &metadata.seed)?;
    let committed = chain
        .submit_block(&block, quantum)
        .map_err(|e| anyhow::anyhow!("the pob contract refused the block: {e:?}"))?
        .context("the block is new")?;
    ensure!(committed.is_head && chain.head().height == 1);
    Ok(quantum - start)
}

fn bs58_decode(text: &str) -> Result<Vec<u8>> {
    Ok(text.parse::<koinos_protocol::crypto::Address>()?.to_vec())
}

/// On a pob devnet (checking its children first, [`assert_pob_children`]).
#[tokio::test]
async fn replicas_edits_change_the_workloads() -> Result<()> {
    let r = running_devnet(
        "scale",
        json!({"network": {"devnet": {"consensus": "pob"}}}),
    )
    .await?;
    assert_pob_children(&r).await?;
    let mempool = format!("Deployment/{}-mempool", r.name);
    let block_store = format!("StatefulSet/{}-block-store", r.name);
    r.kcs
        .patch_spec(
            &r.name,
            json!({"services": {"mempool": {"replicas": 3}, "blockStore": {"replicas": 2}}}),
        )
        .await?;
    wait_replicas(&r.cp.client, &r.ns.name, &r.name, &mempool, 3).await?;
    wait_replicas(&r.cp.client, &r.ns.name, &r.name, &block_store, 2).await?;
    // Each store replica gets its own volume.
    let pvcs = pvc_names(&r.cp.client, &r.ns.name, &r.name).await?;
    ensure!(
        pvcs.iter().filter(|n| n.contains("block-store")).count() == 2,
        "block-store PVCs: {pvcs:?}"
    );
    r.kcs
        .patch_spec(&r.name, json!({"services": {"mempool": {"replicas": 1}}}))
        .await?;
    wait_replicas(&r.cp.client, &r.ns.name, &r.name, &mempool, 1).await?;
    r.operator.stop().await?;
    r.ns.delete().await
}

#[tokio::test]
async fn paused_clusters_hold_edits_and_say_so() -> Result<()> {
    let r = running_devnet("pause", json!({})).await?;
    let mempool = format!("Deployment/{}-mempool", r.name);
    let before = spec_replicas(&r.cp.client, &r.ns.name, &r.name, &mempool).await?;
    r.kcs
        .patch_spec(
            &r.name,
            json!({"clusterOperation": {"reconciliationPaused": true}}),
        )
        .await?;
    wait_condition(&r.kcs, &r.name, "ReconciliationPaused", "True").await?;
    r.kcs
        .patch_spec(
            &r.name,
            json!({"services": {"mempool": {"replicas": before + 2}}}),
        )
        .await?;
    // The operator has seen the edit (condition at the new generation) and not applied it.
    let kc = wait_condition(&r.kcs, &r.name, "ReconciliationPaused", "True").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    ensure!(
        spec_replicas(&r.cp.client, &r.ns.name, &r.name, &mempool).await? == before,
        "edit applied while paused"
    );
    let message = koinos_e2e::koinos::condition(&kc, "ReconciliationPaused")
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    ensure!(
        message.to_lowercase().contains("paus"),
        "the condition does not say so: {message:?}"
    );

    r.kcs
        .patch_spec(
            &r.name,
            json!({"clusterOperation": {"reconciliationPaused": false}}),
        )
        .await?;
    wait_replicas(&r.cp.client, &r.ns.name, &r.name, &mempool, before + 2).await?;
    r.operator.stop().await?;
    r.ns.delete().await
}

#[tokio::test]
async fn stopped_clusters_scale_to_zero_and_keep_their_volumes() -> Result<()> {
    let r = running_devnet("stop", json!({})).await?;
    let pvcs_before = pvc_names(&r.cp.client, &r.ns.name, &r.name).await?;
    ensure!(!pvcs_before.is_empty(), "a devnet has volumes");
    r.kcs
        .patch_spec(&r.name, json!({"clusterOperation": {"stopped": true}}))
        .await?;
    let pods: Api<Pod> = Api::namespaced(r.cp.client.clone(), &r.ns.name);
    let selector = ListParams::default().labels(&format!("{INSTANCE_LABEL}={}", r.name));
    wait_until(
        "every workload at zero replicas and no pods",
        CONVERGE_TIMEOUT,
        || async {
            let found = children(&r.cp.client, &r.ns.name, &r.name).await?;
            let running: Vec<_> = found
                .iter()
                .filter(|c| is_workload(c) && workload_replicas(c).0 != 0)
                .map(|c| c.key())
                .collect();
            ensure!(running.is_empty(), "still scaled up: {running:?}");
            Ok(pods.list(&selector).await?.items.is_empty().then_some(()))
        },
    )
    .await?;
    ensure!(
        pvc_names(&r.cp.client, &r.ns.name, &r.name).await? == pvcs_before,
        "PVCs changed while stopped"
    );

    r.kcs
        .patch_spec(&r.name, json!({"clusterOperation": {"stopped": false}}))
        .await?;
    wait_workloads_ready(&r.cp.client, &r.ns.name, &r.name).await?;
    ensure!(
        pvc_names(&r.cp.client, &r.ns.name, &r.name).await? == pvcs_before,
        "PVCs replaced on restart"
    );
    r.operator.stop().await?;
    r.ns.delete().await
}

#[tokio::test]
async fn deletion_collects_children_and_follows_pvc_retention() -> Result<()> {
    // chain's volume is deleted with the cluster; every other volume is retained (the default).
    let r = running_devnet(
        "delete",
        json!({"services": {"chain": {"storage": {"retentionPolicy": "Delete"}}}}),
    )
    .await?;
    let pvcs = pvc_names(&r.cp.client, &r.ns.name, &r.name).await?;
    let (chain, retained): (BTreeSet<String>, BTreeSet<String>) =
        pvcs.into_iter().partition(|n| n.contains("-chain-"));
    ensure!(
        !chain.is_empty() && !retained.is_empty(),
        "chain {chain:?}, others {retained:?}"
    );

    r.kcs.api.delete(&r.name, &DeleteParams::default()).await?;
    wait_until(
        "the garbage collector to remove every child but retained volumes",
        CONVERGE_TIMEOUT,
        || async {
            let left: BTreeSet<String> = children(&r.cp.client, &r.ns.name, &r.name)
                .await?
                .iter()
                .map(|c| c.key())
                .collect();
            let expected: BTreeSet<String> = retained
                .iter()
                .map(|n| format!("PersistentVolumeClaim/{n}"))
                .collect();
            ensure!(left == expected, "left: {left:?}");
            Ok(Some(()))
        },
    )
    .await?;
    ensure!(
        r.kcs.api.get_opt(&r.name).await?.is_none(),
        "the cluster is still there"
    );
    r.operator.stop().await?;
    r.ns.delete().await
}

/// A genesis ConfigMap that does not exist is a Stalled condition naming it (instead of chain
/// pods that hang in ContainerCreating), and creating it clears the condition.
#[tokio::test]
async fn a_missing_genesis_config_map_is_named_until_it_exists() -> Result<()> {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Patch, PatchParams};
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ns = TestNamespace::create(&cp.client, "missing").await?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let spec = json!({"network": {"genesis": {"configMapRef": {"name": "absent-genesis"}}},
                      "services": {"p2p": {"enabled": false}}});
    kcs.apply("node", json!({"metadata": {"name": "node"}, "spec": spec}))
        .await?;
    let kc = wait_condition(&kcs, "node", "Stalled", "True").await?;
    let stalled = koinos_e2e::koinos::condition(&kc, "Stalled").context("Stalled")?;
    let message = stalled["message"].as_str().unwrap_or_default();
    ensure!(
        stalled["reason"] == "MissingGenesis"
            && message.contains(&format!("ConfigMap {}/absent-genesis", ns.name))
            && message.contains("spec.network.genesis.configMapRef"),
        "Stalled: {stalled}"
    );
    let ready = koinos_e2e::koinos::condition(&kc, "Ready").context("Ready")?;
    ensure!(ready["status"] == "False", "Ready: {ready}");

    let config_maps: Api<ConfigMap> = Api::namespaced(cp.client.clone(), &ns.name);
    let genesis = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "absent-genesis"},
                         "data": {"genesis_data.json": "{\"entries\": []}"}});
    config_maps
        .patch(
            "absent-genesis",
            &PatchParams::apply("e2e-test").force(),
            &Patch::Apply(&genesis),
        )
        .await?;
    // Picked up at the next pass (running clusters requeue every chain status interval).
    wait_condition(&kcs, "node", "Stalled", "False").await?;
    operator.stop().await?;
    ns.delete().await
}
