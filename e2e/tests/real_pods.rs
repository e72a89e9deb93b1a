//! The real-pods tier: the operator installed from `manifests/install.yaml` runs as a pod from
//! its image, and a devnet KoinosCluster runs as real containers on a real node (kubelet,
//! containerd, CNI bridge, kube-proxy, CoreDNS, local-path PVs). Run by
//! `e2e/node/run-tests.sh` (`cargo test -p koinos-e2e --features real-pods --test real_pods`);
//! the tests run one after another (`--test-threads=1`): two tests' clusters at once do not fit
//! the 2-core machine. Two clusters peering through p2p: [`peering`].

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use koinos_e2e::koinos::condition;
use koinos_e2e::real_pods::{
    PortForward, SMALL_DEVNET_PODS, START_TIMEOUT, cluster_pods, devnet_example, for_this_machine,
    head_height, json_rpc, operator_devnet_info, operator_installed, pod_ready, small_devnet,
    wait_pods_ready,
};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until, workspace_path};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

#[path = "support/backlog.rs"]
mod backlog;
use backlog::Backlog;
#[path = "real_pods/broker_users.rs"]
mod broker_users;
#[path = "real_pods/peering.rs"]
mod peering;

/// Cluster `name`'s status.chain.headHeight, as the operator (a pod) reads it over AMQP.
async fn status_height(kcs: &KoinosClusters, name: &str) -> Result<Option<u64>> {
    let kc = kcs.api.get(name).await?;
    Ok(kc
        .data
        .pointer("/status/chain/headHeight")
        .and_then(Value::as_u64))
}

/// Waits until JSON-RPC reports a head above `above`.
async fn wait_height_above(url: &str, above: u64, timeout: Duration) -> Result<u64> {
    wait_until(&format!("head height above {above}"), timeout, || async {
        let height = head_height(url)?;
        Ok((height > above).then_some(height))
    })
    .await
}

/// Runs the koilib compatibility script (transfer, balances, blocks) against `url`.
fn run_koilib(url: &str, devnet: &Value) -> Result<()> {
    let dir = tempfile_dir()?;
    std::fs::write(dir.join("devnet.json"), serde_json::to_vec_pretty(devnet)?)?;
    let out = Command::new("node")
        .arg(workspace_path("compat/koilib/test.mjs"))
        .env("KOINOS_RPC_URL", url)
        .env("KOINOS_DEVNET_DIR", &dir)
        .output()
        .context("running node compat/koilib/test.mjs (npm ci in compat/koilib first)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    ensure!(
        out.status.success(),
        "koilib checks failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("koinos-real-pods-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn pod_uid(pods: &Api<Pod>, name: &str) -> Result<Option<String>> {
    Ok(pods.get_opt(name).await?.and_then(|p| p.metadata.uid))
}

/// `service.method` with an empty request through the gRPC gateway on 127.0.0.1:`port`, its
/// result as Koinos JSON.
async fn grpc_call(port: u16, service: &str, method: &str) -> Result<Value> {
    use koinos_services::grpc::server::RawCodec;
    use tonic::codegen::http::uri::PathAndQuery;
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect()
        .await?;
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await?;
    let path = PathAndQuery::from_maybe_shared(format!("/koinos.services.koinos/{method}"))?;
    let reply = client
        .unary(tonic::Request::new(bytes::Bytes::new()), path, RawCodec)
        .await
        .map_err(|status| anyhow::anyhow!("gRPC {service}.{method}: {status:?}"))?
        .into_inner();
    Ok(koinos_protocol::json::to_value_by_name(
        &format!("koinos.rpc.{service}.{method}_response"),
        &reply,
    )?)
}

/// Deletes pod `name` and waits for its replacement (another UID) to be Ready.
async fn replace_pod(pods: &Api<Pod>, name: &str) -> Result<()> {
    let old = pod_uid(pods, name).await?.context("no such pod")?;
    pods.delete(name, &DeleteParams::default()).await?;
    wait_until(
        &format!("pod {name} to come back Ready"),
        START_TIMEOUT,
        || async {
            let pod = pods.get_opt(name).await?;
            Ok(pod
                .filter(|p| p.metadata.uid.as_deref() != Some(old.as_str()) && pod_ready(p))
                .map(|_| ()))
        },
    )
    .await
}

/// One devnet through its whole life on real pods: it converges from the example as is (bar the
/// broker image), produces, serves koilib from outside the cluster, survives the deletion of its
/// chain and broker pods, scales a store, rolls on a config change, stops and resumes, and is
/// deleted with its PVCs kept (the default retention).
#[tokio::test]
async fn devnet_example_runs_on_real_pods() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    operator_installed(&cp).await?;
    let ns = TestNamespace::create(&cp.client, "devnet").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let pods: Api<Pod> = ns.api();

    // --- converge: every pod Running and Ready, Ready=True, the first block produced.
    let applied = Instant::now();
    let manifest = devnet_example()?;
    let name = manifest["metadata"]["name"].as_str().unwrap().to_owned();
    kcs.apply(&name, manifest).await?;
    let ready_pods = wait_pods_ready(&cp.client, &ns.name, &name, 8, START_TIMEOUT).await?;
    eprintln!(
        "[real-pods] {} pods Ready {:.0} s after apply",
        ready_pods.len(),
        applied.elapsed().as_secs_f64()
    );
    let jsonrpc = PortForward::start(&cp, &ns.name, &format!("svc/{name}-jsonrpc"), 8080)?;
    let url = jsonrpc.url();
    let first = wait_height_above(&url, 0, START_TIMEOUT).await?;
    eprintln!(
        "[real-pods] first block (height {first}) {:.1} s after apply",
        applied.elapsed().as_secs_f64()
    );
    wait_until("Ready=True", START_TIMEOUT, || async {
        let kc = kcs.api.get(&name).await?;
        Ok(condition(&kc, "Ready")
            .is_some_and(|c| c["status"] == "True")
            .then_some(()))
    })
    .await?;

    let rss = koinos_e2e::real_pods::pods_rss_bytes()?;
    eprintln!(
        "[real-pods] memory of the node's pods (sum of RSS, operator included): {:.0} MiB",
        rss as f64 / 1048576.0
    );
    ensure!(rss > 0, "no pod process found in a kubepods cgroup");

    // --- the operator (a pod) reads the head over AMQP: status.chain.headHeight rises.
    let seen = wait_until("status.chain.headHeight", Duration::from_secs(120), || {
        status_height(&kcs, &name)
    })
    .await?;
    wait_until(
        "status.chain.headHeight to rise",
        Duration::from_secs(120),
        || async { Ok(status_height(&kcs, &name).await?.filter(|h| *h > seen)) },
    )
    .await?;

    // --- koilib from outside the cluster: transfer, balances, blocks.
    let devnet = operator_devnet_info(&cp.client, &ns.name, &name).await?;
    run_koilib(&url, &devnet)?;

    // --- our gRPC gateway's pod answers what JSON-RPC answers.
    let grpc = PortForward::start(&cp, &ns.name, &format!("svc/{name}-grpc"), 50051)?;
    let over_grpc = grpc_call(grpc.local_port, "chain", "get_chain_id").await?;
    let over_json = json_rpc(&url, "chain.get_chain_id", json!({}))?;
    ensure!(
        over_grpc == over_json,
        "gRPC get_chain_id {over_grpc} differs from JSON-RPC {over_json}"
    );
    eprintln!("[real-pods] gRPC get_chain_id = {over_grpc}");
    drop(grpc);

    // --- the chain pod comes back on its PVC and continues from its height.
    let before = head_height(&url)?;
    replace_pod(&pods, &format!("{name}-chain-0")).await?;
    let after = wait_height_above(&url, before, Duration::from_secs(180)).await?;
    eprintln!("[real-pods] chain pod replaced: height {before} -> {after}");

    // --- the broker pod: every service reconnects and production resumes.
    let before = head_height(&url)?;
    replace_pod(&pods, &format!("{name}-rabbitmq-0")).await?;
    wait_pods_ready(&cp.client, &ns.name, &name, 8, START_TIMEOUT).await?;
    let after = wait_until(
        "JSON-RPC after the broker restart",
        START_TIMEOUT,
        || async { Ok(head_height(&url).ok().filter(|h| *h > before)) },
    )
    .await?;
    eprintln!("[real-pods] broker pod replaced: height {before} -> {after}");
    // The transaction koilib sent before is still known (stores persisted it).
    let txs = json_rpc(
        &url,
        "account_history.get_account_history",
        json!({"address": devnet["funded_account_address"], "limit": "10", "ascending": true}),
    )?;
    ensure!(
        txs.get("values")
            .and_then(Value::as_array)
            .is_some_and(|v| !v.is_empty()),
        "account history lost the koilib transfer: {txs}"
    );

    // --- block_store 1 -> 3: new replicas catch up on their own PVCs before serving.
    let head_at_scale = head_height(&url)?;
    kcs.patch_spec(&name, json!({"services": {"blockStore": {"replicas": 3}}}))
        .await?;
    let sts: Api<StatefulSet> = ns.api();
    wait_until("3 Ready block_store replicas", START_TIMEOUT, || async {
        let s = sts.get(&format!("{name}-block-store")).await?;
        Ok((s.status.and_then(|s| s.ready_replicas).unwrap_or(0) >= 3).then_some(()))
    })
    .await?;
    // Competing consumers: many calls reach every replica; none may answer from behind.
    for _ in 0..30 {
        let highest = json_rpc(&url, "block_store.get_highest_block", json!({}))?;
        let height = highest["topology"]["height"]
            .as_str()
            .and_then(|h| h.parse::<u64>().ok())
            .context("get_highest_block without a height")?;
        ensure!(
            height >= head_at_scale,
            "a block_store replica served height {height} < {head_at_scale}"
        );
    }
    let pvcs: Api<PersistentVolumeClaim> = ns.api();
    let store_claims = pvcs
        .list(&ListParams::default().labels("app.kubernetes.io/component=block-store"))
        .await?;
    ensure!(
        store_claims.items.len() == 3,
        "one PVC per block_store replica, found {}",
        store_claims.items.len()
    );

    // --- queue-depth autoscaling of real pods: down to the floor while the queue is empty, up
    // under a backlog of real requests, down again once it drains.
    autoscale_block_store_on_queue_depth(&cp, &kcs, &ns.name, &name, &url).await?;

    // --- a config change rolls the affected pods (config hash in the pod template).
    let chain_uid = pod_uid(&pods, &format!("{name}-chain-0")).await?;
    kcs.patch_spec(&name, json!({"config": {"global": {"log-level": "debug"}}}))
        .await?;
    wait_until("the chain pod to roll", START_TIMEOUT, || async {
        let pod = pods.get_opt(&format!("{name}-chain-0")).await?;
        Ok(pod
            .filter(|p| p.metadata.uid != chain_uid && pod_ready(p))
            .map(|_| ()))
    })
    .await?;
    wait_pods_ready(&cp.client, &ns.name, &name, 8, START_TIMEOUT).await?;
    // A port-forward is bound to one pod, and the jsonrpc pod rolled too.
    drop(jsonrpc);
    let jsonrpc = PortForward::start(&cp, &ns.name, &format!("svc/{name}-jsonrpc"), 8080)?;
    let url = jsonrpc.url();

    // --- stop: every pod goes away; resume: the chain continues where it stopped.
    let before = head_height(&url)?;
    drop(jsonrpc);
    kcs.patch_spec(&name, json!({"clusterOperation": {"stopped": true}}))
        .await?;
    wait_until("no pods while stopped", START_TIMEOUT, || async {
        let left = cluster_pods(&cp.client, &ns.name, &name).await?;
        Ok(left.is_empty().then_some(()))
    })
    .await?;
    kcs.patch_spec(&name, json!({"clusterOperation": {"stopped": false}}))
        .await?;
    wait_pods_ready(&cp.client, &ns.name, &name, 8, START_TIMEOUT).await?;
    let jsonrpc = PortForward::start(&cp, &ns.name, &format!("svc/{name}-jsonrpc"), 8080)?;
    let after = wait_until("production after resume", START_TIMEOUT, || async {
        Ok(head_height(&jsonrpc.url()).ok().filter(|h| *h > before))
    })
    .await?;
    eprintln!("[real-pods] stopped and resumed: height {before} -> {after}");
    drop(jsonrpc);

    // --- delete: every pod goes, the PVCs stay (retentionPolicy Retain by default).
    kcs.api.delete(&name, &DeleteParams::foreground()).await?;
    wait_until(
        "every pod of the deleted cluster gone",
        START_TIMEOUT,
        || async {
            let left = cluster_pods(&cp.client, &ns.name, &name).await?;
            Ok(left.is_empty().then_some(()))
        },
    )
    .await?;
    let kept = pvcs.list(&ListParams::default()).await?;
    ensure!(
        kept.items.iter().any(|c| c.name_any().contains("chain")),
        "the chain's PVC was deleted despite retentionPolicy Retain: {:?}",
        kept.items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>()
    );
    ns.delete().await
}

/// Turns on queue-depth autoscaling of block_store (1..3, target 10 per replica, no scale-down
/// window), waits for the HPA to bring the 3 replicas down to 1, then publishes real
/// `get_blocks_by_height` requests into `koinos.rpc.block_store` through a port-forward to the
/// cluster's broker until the HPA (fed by the operator pod's external metrics API) adds a
/// replica that becomes Ready; then stops, purges what is left and waits for the scale-down.
async fn autoscale_block_store_on_queue_depth(
    cp: &ControlPlane,
    kcs: &KoinosClusters,
    namespace: &str,
    name: &str,
    url: &str,
) -> Result<()> {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    use koinos_e2e::real_pods::broker_credentials;

    kcs.patch_spec(
        name,
        json!({"services": {"blockStore": {"autoscaling": {"enabled": true, "minReplicas": 1,
            "maxReplicas": 3, "targetQueueDepth": 10, "scaleDownStabilizationSeconds": 0}}}}),
    )
    .await?;
    let client = cp.client.clone();
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    let store = format!("{name}-block-store");
    let replicas = |want: i32| {
        let sts = sts.clone();
        let store = store.clone();
        move || {
            let sts = sts.clone();
            let store = store.clone();
            async move {
                let s = sts.get(&store).await?;
                let status = s.status.unwrap_or_default();
                Ok(
                    (status.replicas == want && status.ready_replicas.unwrap_or(0) == want)
                        .then_some(()),
                )
            }
        }
    };
    wait_until(
        "the HPA to scale block_store down to 1",
        START_TIMEOUT,
        replicas(1),
    )
    .await?;

    let credentials = broker_credentials(&client, namespace, name).await?;
    // Bounded: at most 10 minutes of requests.
    let backlog = Backlog::start(
        cp,
        namespace,
        name,
        url,
        "koinos.rpc.block_store",
        credentials,
        Duration::from_secs(600),
    )
    .await?;
    let backlog_started = backlog.started;
    let scaled = wait_until(
        "the HPA to add a block_store replica",
        START_TIMEOUT,
        || async {
            let hpa = hpas.get(&store).await?;
            let desired = hpa.status.map(|s| s.desired_replicas).unwrap_or(0);
            Ok((desired >= 2).then_some(()))
        },
    )
    .await;
    let decided = backlog_started.elapsed();
    let ready = match scaled {
        Ok(()) => {
            wait_until(
                "a second Ready block_store replica",
                START_TIMEOUT,
                || async {
                    let s = sts.get(&store).await?;
                    Ok((s.status.and_then(|s| s.ready_replicas).unwrap_or(0) >= 2).then_some(()))
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    backlog.stop().await?;
    ready?;
    eprintln!(
        "[real-pods] backlog -> HPA scale-up decided in {:.1} s, new replica Ready in {:.1} s",
        decided.as_secs_f64(),
        backlog_started.elapsed().as_secs_f64()
    );
    wait_until(
        "the HPA to scale back to 1 once the queue drained",
        START_TIMEOUT,
        replicas(1),
    )
    .await
}
