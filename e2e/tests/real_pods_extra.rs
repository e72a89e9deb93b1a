//! An extra service (`spec.extraServices`) scaled by the real HPA on its queue's depth, which
//! the API server's aggregator reads from the operator pod's external metrics API.
//!
//! The extra service is a second block store of ours, `archive`, serving its own queue
//! `koinos.rpc.archive` (`KOINOS_RPC_QUEUE`, which the operator sets and our binaries read as
//! `rpc-queue`): it catches up from the cluster's block_store, follows accepted blocks, and
//! answers `get_blocks_by_height` for real, as its own broker user. A CPU limit keeps one
//! replica slower than the requests the test publishes, with the extra service's own broker
//! credentials, so a backlog builds; the HPA adds a replica that becomes Ready, and once the
//! backlog is purged it scales back to one. Run by `e2e/node/run-tests.sh`
//! (`cargo test -p koinos-e2e --features real-pods --test real_pods_extra`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use koinos_e2e::real_pods::{
    PortForward, SMALL_DEVNET_PODS, START_TIMEOUT, head_height, operator_installed,
    secret_credentials, small_devnet, wait_pods_ready,
};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::Api;
use serde_json::{Value, json};

#[path = "support/backlog.rs"]
mod backlog;
use backlog::Backlog;

const CLUSTER: &str = "extra";
const EXTRA: &str = "archive";
const QUEUE: &str = "koinos.rpc.archive";

/// `status.services.archive` of the cluster.
async fn extra_status(kcs: &KoinosClusters) -> Result<Option<Value>> {
    let kc = kcs.api.get(CLUSTER).await?;
    Ok(kc
        .data
        .pointer(&format!("/status/services/{EXTRA}"))
        .cloned())
}

/// Waits until the extra service's Deployment has `want` replicas, all Ready.
async fn wait_replicas(deployments: &Api<Deployment>, want: i32, what: &str) -> Result<()> {
    let name = format!("{CLUSTER}-{EXTRA}");
    wait_until(what, START_TIMEOUT, || async {
        let status = deployments.get(&name).await?.status.unwrap_or_default();
        let replicas = status.replicas.unwrap_or(0);
        let ready = status.ready_replicas.unwrap_or(0);
        Ok((replicas == want && ready == want).then_some(()))
    })
    .await
}

#[tokio::test]
async fn autoscale_an_extra_service_on_its_queue_depth() -> Result<()> {
    let started = Instant::now();
    let cp = ControlPlane::connect().await?;
    operator_installed(&cp).await?;
    let ns = TestNamespace::create(&cp.client, "extra").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    kcs.apply(CLUSTER, small_devnet(CLUSTER)?).await?;
    wait_pods_ready(
        &cp.client,
        &ns.name,
        CLUSTER,
        SMALL_DEVNET_PODS,
        START_TIMEOUT,
    )
    .await?;
    let rpc = PortForward::start(&cp, &ns.name, &format!("svc/{CLUSTER}-jsonrpc"), 8080)?;
    let url = rpc.url();
    wait_until("a produced block", START_TIMEOUT, || async {
        Ok((head_height(&url)? > 0).then_some(()))
    })
    .await?;
    // The extra service runs the image the cluster's block_store runs.
    let sets: Api<StatefulSet> = Api::namespaced(cp.client.clone(), &ns.name);
    let image = sets
        .get(&format!("{CLUSTER}-block-store"))
        .await?
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().next())
        .and_then(|c| c.image)
        .context("block_store's image")?;
    kcs.patch_spec(
        CLUSTER,
        json!({"extraServices": [{
            "name": EXTRA,
            "image": image,
            "command": ["koinos-block-store"],
            "args": ["--basedir=/tmp/koinos", "--amqp=$(KOINOS_AMQP_URL)", "--jobs=1"],
            // Slower than the requests below: one replica serves ~300/s at 100m.
            "resources": {"requests": {"cpu": "20m", "memory": "64Mi"},
                          "limits": {"cpu": "20m"}},
            "autoscaling": {"enabled": true, "minReplicas": 1, "maxReplicas": 3,
                            "targetQueueDepth": 10, "scaleDownStabilizationSeconds": 0}}]}),
    )
    .await?;
    let deployments: Api<Deployment> = Api::namespaced(cp.client.clone(), &ns.name);
    wait_replicas(&deployments, 1, "the extra service's first replica Ready").await?;
    // A member like ours: in status.services with its image, counted in servicesReady.
    let status = wait_until("status.services.archive Ready", START_TIMEOUT, || async {
        Ok(extra_status(&kcs)
            .await?
            .filter(|s| s["readyReplicas"] == 1 && s["desiredReplicas"] == 1))
    })
    .await?;
    ensure!(status["image"] == image.as_str(), "status {status}");
    let kc = kcs.api.get(CLUSTER).await?;
    let services_ready = kc.data.pointer("/status/servicesReady").cloned();
    ensure!(
        services_ready == Some(json!("6/6")),
        "servicesReady {services_ready:?}"
    );

    // Requests the archive answers for real (from the blocks it caught up and followed),
    // published as the extra service's own broker user.
    let credentials =
        secret_credentials(&cp.client, &ns.name, &format!("{CLUSTER}-{EXTRA}-amqp")).await?;
    // Bounded: at most 5 minutes of requests.
    let backlog = Backlog::start(
        &cp,
        &ns.name,
        CLUSTER,
        &url,
        QUEUE,
        credentials,
        Duration::from_secs(300),
    )
    .await?;
    let backlog_started = backlog.started;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(cp.client.clone(), &ns.name);
    let scaled = async {
        wait_until(
            "status.services.archive.queueDepth above 0",
            START_TIMEOUT,
            || async {
                Ok(extra_status(&kcs)
                    .await?
                    .filter(|s| s["queueDepth"].as_i64().is_some_and(|d| d > 0)))
            },
        )
        .await?;
        wait_until(
            "the HPA to add an archive replica",
            START_TIMEOUT,
            || async {
                let hpa = hpas.get(&format!("{CLUSTER}-{EXTRA}")).await?;
                let desired = hpa.status.map(|s| s.desired_replicas).unwrap_or(0);
                Ok((desired >= 2).then_some(()))
            },
        )
        .await?;
        let decided = backlog_started.elapsed();
        wait_until("a second Ready archive replica", START_TIMEOUT, || async {
            let d = deployments.get(&format!("{CLUSTER}-{EXTRA}")).await?;
            let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            Ok((ready >= 2).then_some(()))
        })
        .await?;
        anyhow::Ok(decided)
    }
    .await;
    backlog.stop().await?;
    let decided = scaled?;
    eprintln!(
        "[real-pods] archive backlog -> HPA scale-up decided in {:.1} s, new replica Ready in {:.1} s",
        decided.as_secs_f64(),
        backlog_started.elapsed().as_secs_f64()
    );
    wait_replicas(
        &deployments,
        1,
        "the HPA to scale the archive back to 1 once its queue drained",
    )
    .await?;
    eprintln!(
        "[real-pods] extra service autoscaling test: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    ns.delete().await
}
