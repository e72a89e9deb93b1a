//! Two KoinosClusters in different namespaces form one network through their p2p Services:
//! the second syncs the first's chain from genesis, follows it by gossip, and a transaction
//! sent to the second is produced by the first.

use super::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, PostParams};

/// Two nodes on the 2-core machine: the services neither cluster needs here off, and small CPU
/// requests on the others (the defaults of two clusters together exceed the node's 2 CPUs, and
/// the scheduler would leave pods Pending).
fn slim(mut services: Value, running: &[&str]) -> Value {
    for name in ["grpc", "accountHistory", "contractMetaStore"] {
        services[name]["enabled"] = false.into();
    }
    for name in running {
        services[*name]["resources"] = json!({"requests": {"cpu": "50m", "memory": "64Mi"}});
    }
    services
}

/// What both clusters run besides the broker (the origin adds its producer).
const RUNNING: [&str; 6] = [
    "chain",
    "blockStore",
    "mempool",
    "transactionStore",
    "jsonrpc",
    "p2p",
];

/// Cluster `name`'s `status.p2p.address` once the operator has published it.
async fn p2p_address(kcs: &KoinosClusters, name: &str) -> Result<String> {
    wait_until("status.p2p.address", START_TIMEOUT, || async {
        let kc = kcs.api.get(name).await?;
        Ok(kc
            .data
            .pointer("/status/p2p/address")
            .and_then(Value::as_str)
            .map(str::to_owned))
    })
    .await
}

/// The block id at `height` through JSON-RPC at `url`.
fn block_id_at(url: &str, height: u64) -> Result<String> {
    let head = json_rpc(url, "chain.get_head_info", json!({}))?;
    let head_id = head["head_topology"]["id"].clone();
    let blocks = json_rpc(
        url,
        "block_store.get_blocks_by_height",
        json!({"head_block_id": head_id, "ancestor_start_height": height.to_string(),
               "num_blocks": 1, "return_block": false, "return_receipt": false}),
    )?;
    blocks["block_items"][0]["block_id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no block at height {height}: {blocks}"))
}

#[tokio::test]
async fn two_clusters_peer_through_services() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    operator_installed(&cp).await?;

    // --- the origin: a devnet that produces, with p2p (gossip forced on: no seeds).
    let origin_ns = TestNamespace::create(&cp.client, "origin").await?;
    let origin_kcs = KoinosClusters::new(&cp.client, &origin_ns.name);
    let mut origin = devnet_example()?;
    origin["metadata"]["name"] = "origin".into();
    let services = origin["spec"]
        .get("services")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut services = slim(services, &[&RUNNING[..], &["blockProducer"]].concat());
    services["p2p"]["enabled"] = true.into();
    origin["spec"]["services"] = services;
    let started = Instant::now();
    origin_kcs.apply("origin", origin).await?;
    wait_pods_ready(&cp.client, &origin_ns.name, "origin", 8, START_TIMEOUT).await?;
    let origin_rpc = PortForward::start(&cp, &origin_ns.name, "svc/origin-jsonrpc", 8080)?;
    let origin_url = origin_rpc.url();
    wait_height_above(&origin_url, 5, START_TIMEOUT).await?;
    let seed = p2p_address(&origin_kcs, "origin").await?;
    eprintln!(
        "[real-pods] origin producing {:.0} s after apply, p2p {seed}",
        started.elapsed().as_secs_f64()
    );

    // --- the follower: the origin's genesis, the origin's p2p address as its seed, no producer.
    let follower_ns = TestNamespace::create(&cp.client, "follower").await?;
    let follower_kcs = KoinosClusters::new(&cp.client, &follower_ns.name);
    let genesis = origin_ns
        .api::<ConfigMap>()
        .get("origin-genesis")
        .await?
        .data
        .context("the origin's genesis ConfigMap has no data")?;
    follower_ns
        .api::<ConfigMap>()
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("network-genesis".into()),
                    ..Default::default()
                },
                data: Some(genesis),
                ..Default::default()
            },
        )
        .await?;
    let mut services = slim(json!({}), &RUNNING);
    services["p2p"]["seeds"] = json!([seed]);
    let follower = for_this_machine(json!({
        "apiVersion": "koinos.io/v1alpha1",
        "kind": "KoinosCluster",
        "metadata": {"name": "follower"},
        "spec": {
            "network": {"genesis": {"configMapRef": {"name": "network-genesis"}}},
            "services": services,
        }
    }));
    let applied = Instant::now();
    follower_kcs.apply("follower", follower).await?;
    wait_pods_ready(&cp.client, &follower_ns.name, "follower", 7, START_TIMEOUT).await?;
    let follower_rpc = PortForward::start(&cp, &follower_ns.name, "svc/follower-jsonrpc", 8080)?;
    let follower_url = follower_rpc.url();

    // --- sync from genesis through p2p, then the same blocks.
    let target = head_height(&origin_url)?;
    let synced = wait_until(
        &format!("the follower to sync to the origin's height {target}"),
        START_TIMEOUT,
        || async { Ok(head_height(&follower_url).ok().filter(|h| *h >= target)) },
    )
    .await?;
    eprintln!(
        "[real-pods] follower synced {synced} blocks {:.0} s after apply",
        applied.elapsed().as_secs_f64()
    );
    for height in [1, target / 2, target] {
        let (ours, theirs) = (
            block_id_at(&follower_url, height)?,
            block_id_at(&origin_url, height)?,
        );
        ensure!(
            ours == theirs,
            "block {height}: follower {ours}, origin {theirs}"
        );
    }
    let origin_chain = json_rpc(&origin_url, "chain.get_chain_id", json!({}))?;
    let follower_chain = json_rpc(&follower_url, "chain.get_chain_id", json!({}))?;
    ensure!(
        origin_chain == follower_chain,
        "chain ids differ: {origin_chain} vs {follower_chain}"
    );

    // --- then it follows the head by gossip.
    let followed = wait_height_above(&follower_url, synced + 3, Duration::from_secs(120)).await?;
    eprintln!("[real-pods] follower follows by gossip: height {followed}");

    // --- koilib against the follower: its transfers travel by gossip to the origin's producer
    // and come back in the origin's blocks.
    let devnet = operator_devnet_info(&cp.client, &origin_ns.name, "origin").await?;
    run_koilib(&follower_url, &devnet)?;

    drop(follower_rpc);
    drop(origin_rpc);
    follower_ns.delete().await?;
    origin_ns.delete().await
}
