//! Crash loop (docs/testing.md "Crash loop"): on a producing devnet of our binaries under
//! transaction load, chain and each store (block_store, transaction_store, contract_meta_store,
//! account_history) are killed with SIGKILL at random points, `CRASH_LOOP_KILLS` times each
//! (default 3; the full run is 50), and restarted. Each restart must open its database, catch
//! up and answer (services that exit fail the test), with the head moving past where it was at
//! the kill. At the end nothing acknowledged is missing: every head the chain reported is the
//! block at its height in block_store (blocks 1..head all there, linked), and every transaction
//! whose `submit_transaction` returned a receipt is in a block, in transaction_store and in the
//! payer's account_history. Prints the figures (kills, recovery p50/max per service).
//! `CRASH_LOOP_SEED` changes the kill timing.

mod node_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::builder::{transaction, transfer_operation};
use koinos_services::devnet::http_client;
use node_support::TestNet;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const KILLED: [&str; 5] = [
    "chain",
    "block_store",
    "transaction_store",
    "contract_meta_store",
    "account_history",
];
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(120);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn height_of(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|h| h.parse().ok())
        .or_else(|| value.as_u64())
        .unwrap_or(0)
}

/// An answer from the service (a result or its own error), not a gateway timeout: the service
/// consumes its queue again.
fn answered(result: &anyhow::Result<Value>) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => !e.to_string().contains("rpc failed"),
    }
}

/// Heads the chain reported: height -> id.
type Reported = Arc<Mutex<BTreeMap<u64, String>>>;

async fn head(rpc: SocketAddr, reported: &Reported) -> Option<u64> {
    let info = http_client::call(rpc, "chain.get_head_info", json!({}))
        .await
        .ok()?;
    let height = height_of(&info["head_topology"]["height"]);
    if let Some(id) = info["head_topology"]["id"].as_str() {
        reported.lock().unwrap().insert(height, id.to_owned());
    }
    Some(height)
}

/// The transfer load: one transfer at a time from the funded account; a receipt is an
/// acknowledgement. After a failure the next nonce is read back (the failed one may have been
/// accepted all the same).
struct Load {
    acked: Mutex<Vec<String>>,
    failed: AtomicUsize,
    stop: AtomicBool,
}

async fn next_nonce(rpc: SocketAddr, address: &str) -> Option<u64> {
    let decode = |value: &Value| -> Option<u64> {
        match value["nonce"].as_str() {
            None => Some(0),
            Some(text) => koinos_protocol::nonce::decode_nonce(&URL_SAFE.decode(text).ok()?).ok(),
        }
    };
    let chain = http_client::call(rpc, "chain.get_account_nonce", json!({"account": address}))
        .await
        .ok()?;
    let pending = http_client::call(rpc, "mempool.get_pending_nonce", json!({"payee": address}))
        .await
        .ok()?;
    Some(decode(&chain)?.max(decode(&pending)?) + 1)
}

async fn run_load(net_rpc: SocketAddr, info: koinos_services::devnet::DevnetInfo, load: Arc<Load>) {
    let funded = ProducerKey::from_wif(&info.funded_account_wif).unwrap();
    let address = bs58::encode(funded.address()).into_string();
    let receiver = ProducerKey::generate();
    let token = bs58::decode(&info.token_contract_id).into_vec().unwrap();
    let chain_id = URL_SAFE.decode(&info.chain_id).unwrap();
    let mut nonce = None;
    while !load.stop.load(Ordering::SeqCst) {
        let Some(n) = nonce else {
            nonce = next_nonce(net_rpc, &address).await;
            if nonce.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        };
        let operation = transfer_operation(&token, funded.address(), receiver.address(), 1);
        let tx = transaction(
            &chain_id,
            funded.private_key(),
            n,
            10_000_000,
            vec![operation],
        );
        let params = json!({"transaction": koinos_protocol::json::to_value(&tx).unwrap(),
                            "broadcast": true});
        match http_client::call(net_rpc, "chain.submit_transaction", params).await {
            Ok(result) if result.get("receipt").is_some() => {
                load.acked
                    .lock()
                    .unwrap()
                    .push(format!("0x{}", hex::encode(&tx.id)));
                nonce = Some(n + 1);
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            _ => {
                load.failed.fetch_add(1, Ordering::SeqCst);
                nonce = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Waits until `service` answers again and the head passed `head_at_kill`; the time taken.
async fn recover(
    net: &mut TestNet,
    service: &str,
    head_at_kill: u64,
    reported: &Reported,
    probe: &(String, Value),
) -> Duration {
    let started = Instant::now();
    let mut answers = false;
    loop {
        let exited = net.node.exited();
        if !exited.is_empty() {
            net.fail(&format!(
                "services exited after restarting {service}: {exited:?}"
            ));
        }
        if !answers {
            answers = answered(&net.call(&probe.0, probe.1.clone()).await);
        }
        if answers
            && head(net.rpc, reported)
                .await
                .is_some_and(|h| h > head_at_kill)
        {
            return started.elapsed();
        }
        if started.elapsed() > RECOVERY_TIMEOUT {
            net.fail(&format!(
                "{service} did not recover within {RECOVERY_TIMEOUT:?} (answers: {answers})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Blocks 1..=height on the head's chain, from block_store, in pages.
async fn all_blocks(net: &TestNet, head_id: &str, height: u64) -> Vec<Value> {
    let mut blocks = Vec::new();
    while (blocks.len() as u64) < height {
        let start = blocks.len() as u64 + 1;
        let params = json!({"head_block_id": head_id, "ancestor_start_height": start.to_string(),
                            "num_blocks": (height - start + 1).min(1000), "return_block": true});
        let page = net
            .call("block_store.get_blocks_by_height", params)
            .await
            .unwrap_or_else(|e| net.fail(&format!("get_blocks_by_height: {e}")));
        let items = page["block_items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            net.fail(&format!("block_store has no block at height {start}"));
        }
        blocks.extend(items);
    }
    blocks
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_and_stores_killed_at_random_lose_nothing_acknowledged() {
    let kills: usize = env_or("CRASH_LOOP_KILLS", 3);
    let mut rng = StdRng::seed_from_u64(env_or("CRASH_LOOP_SEED", 0x6b69_6c6c));
    let started = Instant::now();
    let mut net = TestNet::start("crash-loop", 250);
    net.wait_height(3, Duration::from_secs(90)).await;
    let funded = ProducerKey::from_wif(&net.info.funded_account_wif).unwrap();
    let payer = bs58::encode(funded.address()).into_string();
    let probes: BTreeMap<&str, (String, Value)> = [
        ("chain", ("chain.get_head_info".to_owned(), json!({}))),
        (
            "block_store",
            ("block_store.get_highest_block".to_owned(), json!({})),
        ),
        (
            "transaction_store",
            (
                "transaction_store.get_transactions_by_id".to_owned(),
                json!({"transaction_ids": [format!("0x1220{}", "0".repeat(64))]}),
            ),
        ),
        (
            "contract_meta_store",
            (
                "contract_meta_store.get_contract_meta".to_owned(),
                json!({"contract_id": net.info.token_contract_id}),
            ),
        ),
        (
            "account_history",
            (
                "account_history.get_account_history".to_owned(),
                json!({"address": payer, "limit": 1}),
            ),
        ),
    ]
    .into_iter()
    .collect();

    let reported: Reported = Arc::default();
    let load = Arc::new(Load {
        acked: Mutex::new(Vec::new()),
        failed: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let load_task = tokio::spawn(run_load(net.rpc, net.info.clone(), load.clone()));

    let mut recoveries: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for round in 0..kills {
        let mut order = KILLED;
        // A different order each round, so each service dies next to each other one.
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for service in order {
            tokio::time::sleep(Duration::from_millis(rng.random_range(200..2000))).await;
            let head_at_kill = head(net.rpc, &reported).await.unwrap_or(0);
            net.node.kill(service);
            if rng.random_bool(0.3) {
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await;
            }
            net.node
                .start(service)
                .unwrap_or_else(|e| net.fail(&format!("restart {service}: {e}")));
            let took = recover(&mut net, service, head_at_kill, &reported, &probes[service]).await;
            recoveries.entry(service).or_default().push(took);
        }
        eprintln!(
            "crash loop round {}/{kills}: {} transactions acknowledged, head {:?}",
            round + 1,
            load.acked.lock().unwrap().len(),
            reported.lock().unwrap().last_key_value().map(|(h, _)| *h)
        );
    }
    load.stop.store(true, Ordering::SeqCst);
    load_task.await.unwrap();
    let acked: Vec<String> = load.acked.lock().unwrap().clone();

    // Every acknowledged transaction reaches transaction_store (included in a block).
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing_from_store = loop {
        let mut missing = BTreeSet::new();
        for chunk in acked.chunks(200) {
            let result = net
                .call(
                    "transaction_store.get_transactions_by_id",
                    json!({"transaction_ids": chunk}),
                )
                .await
                .unwrap_or_else(|e| net.fail(&format!("get_transactions_by_id: {e}")));
            let found: BTreeSet<String> = result["transactions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|item| {
                    item["containing_blocks"]
                        .as_array()
                        .is_some_and(|b| !b.is_empty())
                })
                .filter_map(|item| item["transaction"]["id"].as_str().map(str::to_owned))
                .collect();
            missing.extend(chunk.iter().filter(|id| !found.contains(*id)).cloned());
        }
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };

    // Blocks: every reported head is the block at its height; the chain is linked from 1.
    let info = net.head().await;
    let height = height_of(&info["head_topology"]["height"]);
    let head_id = info["head_topology"]["id"].as_str().unwrap().to_owned();
    let blocks = all_blocks(&net, &head_id, height).await;
    net.assert_linked(&blocks);
    let reported = reported.lock().unwrap().clone();
    let lost_blocks: Vec<(u64, String)> = reported
        .iter()
        .filter(|(h, id)| {
            **h > 0 && (**h > height || blocks[**h as usize - 1]["block_id"] != id.as_str())
        })
        .map(|(h, id)| (*h, id.clone()))
        .collect();
    let in_blocks: BTreeSet<String> = blocks
        .iter()
        .flat_map(|b| {
            b["block"]["transactions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|tx| tx["id"].as_str().map(str::to_owned))
        .collect();
    let missing_from_blocks: Vec<&String> =
        acked.iter().filter(|id| !in_blocks.contains(*id)).collect();

    // account_history: the payer's records hold every acknowledged transaction.
    let mut history = BTreeSet::new();
    let mut seq_num = 0u64;
    loop {
        let page = net
            .call(
                "account_history.get_account_history",
                json!({"address": payer, "seq_num": seq_num.to_string(), "limit": 500,
                       "ascending": true}),
            )
            .await
            .unwrap_or_else(|e| net.fail(&format!("get_account_history: {e}")));
        let values = page["values"].as_array().cloned().unwrap_or_default();
        for value in &values {
            if let Some(id) = value["trx"]["transaction"]["id"].as_str() {
                history.insert(id.to_owned());
            }
        }
        if values.len() < 500 {
            break;
        }
        seq_num += 500;
    }
    let missing_from_history: Vec<&String> =
        acked.iter().filter(|id| !history.contains(*id)).collect();

    println!(
        "crash loop: {kills} kills per service, {:?} in all",
        started.elapsed()
    );
    for (service, times) in &mut recoveries {
        times.sort();
        println!(
            "  {service}: {} SIGKILLs, {} restarts, recovery p50 {:?} max {:?}",
            times.len(),
            times.len(),
            percentile(times, 0.5),
            times.last().unwrap()
        );
    }
    println!(
        "  head {height}, {} heads reported, {} transactions acknowledged ({} submissions \
         failed while a service was down); lost: {} blocks, {} transactions from blocks, {} \
         from transaction_store, {} from account_history",
        reported.len(),
        acked.len(),
        load.failed.load(Ordering::SeqCst),
        lost_blocks.len(),
        missing_from_blocks.len(),
        missing_from_store.len(),
        missing_from_history.len()
    );
    assert!(
        lost_blocks.is_empty(),
        "reported heads lost: {lost_blocks:?}"
    );
    assert!(
        missing_from_blocks.is_empty(),
        "acknowledged transactions in no block: {missing_from_blocks:?}"
    );
    assert!(
        missing_from_store.is_empty(),
        "acknowledged transactions missing from transaction_store: {missing_from_store:?}"
    );
    assert!(
        missing_from_history.is_empty(),
        "acknowledged transactions missing from account_history: {missing_from_history:?}"
    );
    assert!(!acked.is_empty(), "the load got transactions through");
}
