//! A proof-of-burn devnet of real pods (`manifests/examples/devnet-pob.yaml`): the operator's pob
//! genesis and configs make a producing chain. The block producer wins quanta with the VHP the
//! genesis gave its key and the chain accepts its blocks through the pob contract: blocks follow
//! one another, each signed by the producer address, and the contract's metadata (read through
//! JSON-RPC) follows the head: its last block time is the head's and its seed has moved off the
//! chain id. Run by `e2e/node/run-tests.sh`
//! (`cargo test -p koinos-e2e --features real-pods --test real_pods_pob`).

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use k8s_openapi::api::core::v1::ConfigMap;
use koinos_e2e::real_pods::{
    PortForward, START_TIMEOUT, for_this_machine, head_height, json_rpc, operator_installed,
    wait_pods_ready,
};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until, workspace_path};
use koinos_protocol::crypto::Address;
use koinos_protocol::devnet::pob::GET_METADATA_ENTRY_POINT;
use koinos_protocol::genesis::{chain_id, genesis_from_json};
use koinos_protocol::pb::koinos::contracts::pob::{GetMetadataResult, Metadata};
use kube::Api;
use prost::Message;
use serde_json::{Value, json};

const CLUSTER: &str = "devnet-pob";
/// Blocks to wait for: at the 3 s target about 15 s of production.
const BLOCKS: u64 = 5;

/// The pob contract's `get_metadata`, read through the cluster's JSON-RPC.
fn pob_metadata(url: &str, pob_id: &str) -> Result<Metadata> {
    let result = json_rpc(
        url,
        "chain.read_contract",
        json!({"contract_id": pob_id, "entry_point": GET_METADATA_ENTRY_POINT}),
    )?;
    let bytes = URL_SAFE.decode(result["result"].as_str().unwrap_or(""))?;
    GetMetadataResult::decode(bytes.as_slice())?
        .value
        .context("get_metadata without a value")
}

#[tokio::test]
async fn a_pob_devnet_of_real_pods_produces() -> Result<()> {
    let started = Instant::now();
    let cp = ControlPlane::connect().await?;
    operator_installed(&cp).await?;
    let ns = TestNamespace::create(&cp.client, "pob").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let path = workspace_path("manifests/examples/devnet-pob.yaml");
    let mut manifest: Value = serde_yaml::from_str(&std::fs::read_to_string(&path)?)?;
    // The producing path only, to fit the 2-core machine: chain, block_store, mempool,
    // block_producer, jsonrpc, account_history (it follows the pob fork choice too), broker.
    for off in ["grpc", "contractMetaStore", "transactionStore"] {
        manifest["spec"]["services"][off]["enabled"] = false.into();
    }
    kcs.apply(CLUSTER, for_this_machine(manifest)).await?;
    wait_pods_ready(&cp.client, &ns.name, CLUSTER, 7, START_TIMEOUT).await?;

    let config_maps: Api<ConfigMap> = Api::namespaced(cp.client.clone(), &ns.name);
    let data = config_maps
        .get(&format!("{CLUSTER}-genesis"))
        .await?
        .data
        .context("genesis ConfigMap without data")?;
    ensure!(data.get("consensus").map(String::as_str) == Some("pob"));
    let pob_id = data.get("pob-contract-id").context("pob-contract-id")?;
    let genesis = genesis_from_json(&data["genesis_data.json"])?;
    let producer = koinos_protocol::genesis::metadata_value(&genesis, "genesis_key")
        .context("genesis key")?
        .to_vec();

    let rpc = PortForward::start(&cp, &ns.name, &format!("svc/{CLUSTER}-jsonrpc"), 8080)?;
    let url = rpc.url();
    wait_until(&format!("{BLOCKS} pob blocks"), START_TIMEOUT, || async {
        Ok((head_height(&url)? >= BLOCKS).then_some(()))
    })
    .await?;
    let produced = started.elapsed();

    let producer = Address::from_bytes(&producer)?.to_string();
    let head = json_rpc(&url, "chain.get_head_info", json!({}))?;
    let blocks = json_rpc(
        &url,
        "block_store.get_blocks_by_height",
        json!({"head_block_id": head["head_topology"]["id"], "ancestor_start_height": 1,
               "num_blocks": BLOCKS, "return_block": true, "return_receipt": false}),
    )?;
    let signers: Vec<&str> = blocks["block_items"]
        .as_array()
        .context("block_items")?
        .iter()
        .map(|b| b["block"]["header"]["signer"].as_str().unwrap_or(""))
        .collect();
    ensure!(
        signers.len() as u64 == BLOCKS && signers.iter().all(|s| *s == producer),
        "signers of blocks 1..={BLOCKS}: {signers:?} (producer {producer})"
    );
    // The contract processed the head: its metadata is the head's (read again if the producer
    // added a block between the two reads).
    let metadata = wait_until("the pob metadata of the head", START_TIMEOUT, || async {
        let before = pob_metadata(&url, pob_id)?;
        let head = json_rpc(&url, "chain.get_head_info", json!({}))?;
        let head_time: u64 = head["head_block_time"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .or_else(|| head["head_block_time"].as_u64())
            .context("head_block_time")?;
        Ok((before.last_block_time == head_time).then_some(before))
    })
    .await?;
    ensure!(
        metadata.seed != chain_id(&genesis),
        "the seed never moved off the chain id"
    );
    eprintln!(
        "[real-pods] pob devnet: {BLOCKS} blocks by {producer} after {:.0?} (difficulty {})",
        produced,
        hex::encode(&metadata.difficulty)
    );
    ns.delete().await
}
