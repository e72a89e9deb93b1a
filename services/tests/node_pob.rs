//! A proof-of-burn devnet (`koinos-devnet init --consensus pob`) of our binaries as processes on
//! the broker: the producer's `pob` algorithm wins quanta with the VHP genesis gave it and the
//! chain accepts its blocks through the pob contract; a block built here by the producer's key
//! is accepted too, while the same block with a forged VRF proof, or one signed for an address
//! without a registered key, is refused with the contract's reason.

mod node_support;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::crypto::{PrivateKey, vrf};
use koinos_protocol::devnet::pob::{
    self as pob, GET_METADATA_ENTRY_POINT, difficulty_met, vrf_payload,
};
use koinos_protocol::pb::koinos::contracts::pob::{GetMetadataResult, Metadata, SignatureData};
use koinos_protocol::pb::koinos::protocol::{Block, BlockHeader};
use koinos_protocol::pb::koinos::rpc::chain::GetHeadInfoResponse;
use koinos_services::block_producer::ProducerKey;
use koinos_services::devnet::launcher::Node;
use koinos_services::devnet::{self, Consensus, DevnetSpec};
use node_support::{TestNet, Vhost};
use prost::Message;
use serde_json::json;

const INTERVAL_MS: u64 = 200;

fn start(test: &str) -> TestNet {
    let vhost = Vhost::create(test);
    let dir = tempfile::tempdir().expect("temp dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port");
    let spec = DevnetSpec {
        amqp: vhost.amqp_url(),
        listen: format!("127.0.0.1:{port}"),
        block_interval_ms: INTERVAL_MS,
        consensus: Consensus::Pob,
        ..DevnetSpec::default()
    };
    let info = devnet::init(dir.path(), &spec).expect("devnet init");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_koinos-chain"))
        .parent()
        .expect("binary directory");
    let mut node = Node::new(dir.path(), bin_dir);
    node.start_all().expect("start the services");
    TestNet {
        node,
        info,
        rpc: SocketAddr::from(([127, 0, 0, 1], port)),
        vhost,
        dir,
    }
}

async fn metadata(net: &TestNet, pob_id: &str) -> Metadata {
    let result = net
        .call(
            "chain.read_contract",
            json!({"contract_id": pob_id, "entry_point": GET_METADATA_ENTRY_POINT}),
        )
        .await
        .unwrap_or_else(|e| net.fail(&format!("read_contract get_metadata: {e}")));
    let bytes = URL_SAFE
        .decode(result["result"].as_str().unwrap_or(""))
        .expect("base64url");
    GetMetadataResult::decode(bytes.as_slice())
        .unwrap()
        .value
        .unwrap()
}

/// The head and the pob metadata of that same head (the metadata's last block time is the
/// head's time; the producer may add a block between two reads).
async fn head_and_metadata(net: &TestNet, pob_id: &str) -> (GetHeadInfoResponse, Metadata) {
    for _ in 0..20 {
        let before = metadata(net, pob_id).await;
        let head = net.call("chain.get_head_info", json!({})).await.unwrap();
        let head: GetHeadInfoResponse = koinos_protocol::json::from_value(&head).unwrap();
        let after = metadata(net, pob_id).await;
        if before == after && after.last_block_time == head.head_block_time {
            return (head, after);
        }
    }
    net.fail("the head kept moving while reading the pob metadata")
}

/// A block on `head` signed for `signer` with `key`, at the first quantum (after now) that
/// `key` wins with `vhp`.
fn block_on(
    head: &GetHeadInfoResponse,
    metadata: &Metadata,
    signer: &[u8],
    key: &PrivateKey,
    vhp: u64,
) -> Block {
    let topology = head.head_topology.clone().unwrap();
    let now = koinos_services::block_producer::producer::now_millis();
    let mut quantum = now.max(head.head_block_time + 1).div_ceil(10) * 10;
    loop {
        let (_, output) = vrf::prove(key, &vrf_payload(&metadata.seed, quantum));
        if difficulty_met(&output, vhp, &metadata.difficulty) {
            break;
        }
        quantum += 10;
    }
    let mut block = Block {
        header: Some(BlockHeader {
            previous: topology.id,
            height: topology.height + 1,
            timestamp: quantum,
            previous_state_merkle_root: head.head_state_merkle_root.clone(),
            signer: signer.to_vec(),
            ..Default::default()
        }),
        ..Default::default()
    };
    pob::sign_block(&mut block, key, &metadata.seed).unwrap();
    block
}

async fn submit(net: &TestNet, block: &Block) -> anyhow::Result<serde_json::Value> {
    // The chain accepts a block up to 5 s ahead; ours are at most one winning quantum ahead.
    let ahead = block
        .header
        .as_ref()
        .unwrap()
        .timestamp
        .saturating_sub(koinos_services::block_producer::producer::now_millis());
    tokio::time::sleep(Duration::from_millis(ahead)).await;
    net.call(
        "chain.submit_block",
        json!({"block": koinos_protocol::json::to_value(block).unwrap()}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pob_devnet_produces_and_refuses_forged_blocks() {
    let started = Instant::now();
    let mut net = start("pob-devnet");
    assert_eq!(net.info.consensus, "pob");
    let pob_id = net.info.pob_contract_id.clone().expect("a pob contract");

    // The producer's pob algorithm: blocks accepted through the contract.
    net.wait_height(5, Duration::from_secs(90)).await;
    let blocks = net.blocks(5).await;
    net.assert_linked(&blocks);
    let mut last_time = 0;
    for item in &blocks {
        let header = &item["block"]["header"];
        assert_eq!(header["signer"], net.info.producer_address.as_str());
        let time: u64 = header["timestamp"].as_str().unwrap().parse().unwrap();
        assert_eq!(time % 10, 0, "a quantum boundary");
        assert!(time > last_time);
        last_time = time;
        let signature = URL_SAFE
            .decode(item["block"]["signature"].as_str().unwrap())
            .unwrap();
        let data = SignatureData::decode(signature.as_slice()).expect("signature_data");
        assert_eq!(data.vrf_proof.len(), vrf::PROOF_LEN);
        assert_eq!(data.vrf_hash[..2], [0x12, 0x20]);
        assert_eq!(data.signature.len(), 65);
    }
    let elapsed_5 = started.elapsed();

    let key_file = net.dir.path().join("block_producer/private.key");
    let producer = ProducerKey::load_or_generate(&key_file).unwrap();
    let vhp = pob::vhp_for_interval(INTERVAL_MS);
    let (head, metadata) = head_and_metadata(&net, &pob_id).await;
    let genuine = block_on(
        &head,
        &metadata,
        producer.address(),
        producer.private_key(),
        vhp,
    );

    let mut forged = genuine.clone();
    let mut data = SignatureData::decode(forged.signature.as_slice()).unwrap();
    data.vrf_proof[40] ^= 1;
    forged.signature = data.encode_to_vec();
    let error = submit(&net, &forged).await.expect_err("a forged proof");
    assert!(
        error.to_string().contains("proof failed vrf validation"),
        "{error}"
    );

    let outsider = PrivateKey::from_seed("pob outsider");
    let unregistered = block_on(
        &head,
        &metadata,
        outsider.address().as_bytes(),
        &outsider,
        u64::MAX,
    );
    let error = submit(&net, &unregistered)
        .await
        .expect_err("no registered key");
    assert!(
        error
            .to_string()
            .contains("signer address has no public key record"),
        "{error}"
    );

    // The same block, unforged, is accepted. The producer, on the same head and clock, may well
    // have produced this very block already (same quantum, deterministic proof and signature):
    // then the chain answers without a receipt, and either way block_store holds it.
    let accepted = submit(&net, &genuine)
        .await
        .unwrap_or_else(|e| net.fail(&format!("the genuine block was refused: {e}")));
    assert!(
        accepted.get("receipt").is_some() || accepted == json!({}),
        "{accepted}"
    );
    let id = format!("0x{}", hex::encode(&genuine.id));
    let stored = net
        .call(
            "block_store.get_blocks_by_id",
            json!({"block_ids": [id], "return_block": true}),
        )
        .await
        .unwrap();
    assert_eq!(
        stored["block_items"][0]["block_id"],
        id.as_str(),
        "{stored}"
    );

    // Production goes on.
    net.wait_height(8, Duration::from_secs(60)).await;
    eprintln!(
        "pob devnet: 5 blocks in {:.1} s, test {:.1} s",
        elapsed_5.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
