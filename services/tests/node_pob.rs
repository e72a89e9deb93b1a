//! A proof-of-burn devnet (`koinos-devnet init --consensus pob`) of our binaries as processes on
//! the broker: the producer's `pob` algorithm wins quanta with the VHP genesis gave it and the
//! chain accepts its blocks through the pob contract; a block built here by the producer's key
//! (while the producer is stopped) is accepted too, while the same block with a forged VRF proof,
//! or one signed for an address without a registered key, is refused with the contract's reason,
//! and the producer, started again, goes on from it; a second producer that gets VHP and
//! registers its key by transactions produces alongside the first.

mod node_support;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::crypto::{PrivateKey, vrf};
use koinos_protocol::devnet::pob::{
    self as pob, GET_METADATA_ENTRY_POINT, REGISTER_PUBLIC_KEY_ENTRY_POINT, difficulty_met,
    vrf_payload,
};
use koinos_protocol::pb::koinos::contracts::pob::{
    GetMetadataResult, Metadata, RegisterPublicKeyArguments, SignatureData,
};
use koinos_protocol::pb::koinos::protocol::{
    Block, BlockHeader, CallContractOperation, Operation, operation::Op,
};
use koinos_protocol::pb::koinos::rpc::chain::GetHeadInfoResponse;
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::builder;
use koinos_services::devnet::launcher::Node;
use koinos_services::devnet::{self, Consensus, DevnetSpec, http_client};
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
/// head's time; a block may land between two reads).
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

/// A block on `head` signed for `signer` with `key`, at the first quantum after now (strictly:
/// later than any block proposed before this call) that `key` wins with `vhp`.
fn block_on(
    head: &GetHeadInfoResponse,
    metadata: &Metadata,
    signer: &[u8],
    key: &PrivateKey,
    vhp: u64,
) -> Block {
    let topology = head.head_topology.clone().unwrap();
    let now = koinos_services::block_producer::producer::now_millis();
    let mut quantum = (now + 1).max(head.head_block_time + 1).div_ceil(10) * 10;
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

    // The producer stops while the test submits its own blocks. Running, it would race them: on
    // the same head and clock it wins the same first quantum, so it produces the very block
    // `genuine` is, and `forged` has that block's id too (the id is the header's hash, the VRF
    // proof is in the signature): once the chain holds the producer's block it answers the
    // forged copy as already known, unchecked, without an error. Stopped, the producer has
    // proposed nothing dated after now, and the blocks built below are dated after now.
    net.node.stop("block_producer");
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
    let error = match submit(&net, &forged).await {
        Ok(answer) => net.fail(&format!("a forged proof was accepted: {answer}")),
        Err(error) => error.to_string(),
    };
    if !error.contains("proof failed vrf validation") {
        net.fail(&format!("a forged proof: {error}"));
    }

    let outsider = PrivateKey::from_seed("pob outsider");
    let unregistered = block_on(
        &head,
        &metadata,
        outsider.address().as_bytes(),
        &outsider,
        u64::MAX,
    );
    let error = match submit(&net, &unregistered).await {
        Ok(answer) => net.fail(&format!("a block without a registered key: {answer}")),
        Err(error) => error.to_string(),
    };
    if !error.contains("signer address has no public key record") {
        net.fail(&format!("a block without a registered key: {error}"));
    }

    // The same block, unforged, is accepted.
    let accepted = submit(&net, &genuine)
        .await
        .unwrap_or_else(|e| net.fail(&format!("the genuine block was refused: {e}")));
    if accepted.get("receipt").is_none() {
        net.fail(&format!("the genuine block has no receipt: {accepted}"));
    }
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

    // Production goes on once the producer is back.
    net.node.start("block_producer").unwrap();
    let genuine_height = genuine.header.as_ref().unwrap().height;
    net.wait_height(genuine_height + 3, Duration::from_secs(60))
        .await;
    eprintln!(
        "pob devnet: 5 blocks in {:.1} s, test {:.1} s",
        elapsed_5.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// Submits a transaction of `key` with `operations` and waits until transaction_store lists it.
async fn transact(net: &TestNet, key: &PrivateKey, operations: Vec<Operation>) {
    let chain_id = URL_SAFE.decode(&net.info.chain_id).unwrap();
    let address = bs58::encode(key.address().as_bytes()).into_string();
    let nonce = net
        .call("chain.get_account_nonce", json!({"account": address}))
        .await
        .unwrap();
    let nonce = URL_SAFE
        .decode(nonce["nonce"].as_str().unwrap_or("KAA="))
        .unwrap();
    let nonce = koinos_protocol::nonce::decode_nonce(&nonce).unwrap() + 1;
    let tx = builder::transaction(&chain_id, key, nonce, 100_000_000, operations);
    let receipt = net
        .call(
            "chain.submit_transaction",
            json!({"transaction": koinos_protocol::json::to_value(&tx).unwrap(), "broadcast": true}),
        )
        .await
        .unwrap_or_else(|e| net.fail(&format!("submit_transaction: {e}")));
    assert!(receipt["receipt"].get("reverted").is_none(), "{receipt}");
    let id = format!("0x{}", hex::encode(&tx.id));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = net
            .call(
                "transaction_store.get_transactions_by_id",
                json!({"transaction_ids": [id]}),
            )
            .await
            .unwrap();
        if found["transactions"][0]["containing_blocks"][0].is_string() {
            return;
        }
        if Instant::now() > deadline {
            net.fail(&format!("{id} was not included"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A second producer joins as a Koinos producer does: it receives VHP (a transfer from the
/// first), registers its key with a transaction, and once the key is active (20 blocks) its
/// `koinos-block-producer` wins quanta too; the chain, choosing between their blocks by pob's
/// fork choice, keeps one linked chain that both sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_producer_registers_and_shares_the_chain() {
    let mut net = start("pob-two-producers");
    net.wait_height(2, Duration::from_secs(90)).await;
    let first =
        ProducerKey::load_or_generate(&net.dir.path().join("block_producer/private.key")).unwrap();
    let vhp_id = bs58::decode(net.info.vhp_contract_id.as_ref().unwrap())
        .into_vec()
        .unwrap();
    let pob_id = bs58::decode(net.info.pob_contract_id.as_ref().unwrap())
        .into_vec()
        .unwrap();
    let second = PrivateKey::from_seed("pob second producer");
    let half = pob::vhp_for_interval(INTERVAL_MS) / 2;
    transact(
        &net,
        first.private_key(),
        vec![builder::transfer_operation(
            &vhp_id,
            first.address(),
            second.address().as_bytes(),
            half,
        )],
    )
    .await;
    let register = RegisterPublicKeyArguments {
        producer: second.address().to_vec(),
        public_key: second.public_key().to_compressed().to_vec(),
    };
    transact(
        &net,
        &second,
        vec![Operation {
            op: Some(Op::CallContract(CallContractOperation {
                contract_id: pob_id,
                entry_point: REGISTER_PUBLIC_KEY_ENTRY_POINT,
                args: register.encode_to_vec(),
            })),
        }],
    )
    .await;
    let registered_at = http_client::head_height(net.rpc).await.unwrap();
    net.wait_height(registered_at + 21, Duration::from_secs(90))
        .await;

    // The second producer: its own basedir with the devnet's config and its key.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(
        net.dir.path().join("config.yml"),
        other.path().join("config.yml"),
    )
    .unwrap();
    std::fs::create_dir_all(other.path().join("block_producer")).unwrap();
    std::fs::write(
        other.path().join("block_producer/private.key"),
        second.to_wif(),
    )
    .unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_koinos-chain"))
        .parent()
        .unwrap();
    let mut producer2 = Node::new(other.path(), bin_dir);
    producer2.start("block_producer").unwrap();

    let from = http_client::head_height(net.rpc).await.unwrap();
    let second_address = bs58::encode(second.address().as_bytes()).into_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut by_first, mut by_second) = (0, 0);
    while by_first == 0 || by_second < 3 {
        if Instant::now() > deadline || !producer2.exited().is_empty() {
            net.fail(&format!(
                "blocks since {from}: {by_first} by the first producer, {by_second} by the \
                 second\n{}",
                producer2.log_tail(20)
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let height = http_client::head_height(net.rpc).await.unwrap();
        let blocks = net.blocks(height).await;
        net.assert_linked(&blocks);
        let signers: Vec<&str> = blocks
            .get(from as usize..)
            .unwrap_or_default()
            .iter()
            .map(|b| b["block"]["header"]["signer"].as_str().unwrap_or(""))
            .collect();
        by_second = signers.iter().filter(|s| **s == second_address).count();
        by_first = signers
            .iter()
            .filter(|s| **s == net.info.producer_address)
            .count();
    }
    producer2.stop_all();
    eprintln!("two pob producers: {by_first} and {by_second} blocks after height {from}");
}
