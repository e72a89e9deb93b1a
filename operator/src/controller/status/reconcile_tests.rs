//! The broker part of a whole reconcile: the in-memory API server for Kubernetes, the real
//! RabbitMQ for the cluster's broker (a vhost per test). What is read lands in the status,
//! nothing fails the reconcile, running clusters requeue at the chain status interval, and a
//! second pass over an unchanged broker writes nothing.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;

use super::*;
use crate::broker::test_vhost::Vhost;
use crate::broker::{AmqpBrokerReader, ReaderOptions};
use crate::controller::{BrokerOptions, Context, reconcile};
use crate::crd::KoinosCluster;
use crate::metrics::Metrics;
use crate::test_support::fake_api::{FakeApi, Write};
use crate::test_support::{DEVNET, fixture};

const CLUSTER_PATH: &str = "/apis/koinos.io/v1alpha1/namespaces/koinos/koinosclusters/devnet";
const INTERVAL: Duration = Duration::from_secs(7);
const RESYNC: Duration = Duration::from_secs(300);
// Generous: a loaded CI machine can take a while to open an AMQP connection.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `DEVNET` with `extra` appended to its spec.
fn devnet_with(extra: &str) -> KoinosCluster {
    fixture(&format!("{DEVNET}{extra}"))
}

async fn setup(cluster: &KoinosCluster, broker_url: &str) -> (FakeApi, Arc<Context>) {
    let api = FakeApi::default();
    let base = api.start().await;
    api.insert(CLUSTER_PATH, serde_json::to_value(cluster).unwrap());
    let secret = Secret {
        metadata: kube::core::ObjectMeta {
            name: Some("broker".into()),
            namespace: Some("koinos".into()),
            ..Default::default()
        },
        data: Some([("url".into(), ByteString(broker_url.as_bytes().to_vec()))].into()),
        ..Default::default()
    };
    api.insert(
        "/api/v1/namespaces/koinos/secrets/broker",
        serde_json::to_value(secret).unwrap(),
    );
    let client = FakeApi::client(&base);
    let options = ReaderOptions {
        timeout: TIMEOUT,
        ..ReaderOptions::default()
    };
    let broker = BrokerOptions {
        reader: AmqpBrokerReader::with_options(client.clone(), None, options),
        chain_status_interval: INTERVAL,
    };
    let ctx = Context::new(client, Metrics::new(), RESYNC, None).with_broker(broker);
    (api, Arc::new(ctx))
}

fn stored(api: &FakeApi) -> Arc<KoinosCluster> {
    Arc::new(serde_json::from_value(api.get(CLUSTER_PATH).unwrap()).unwrap())
}

fn status(api: &FakeApi) -> KoinosClusterStatus {
    stored(api).status.clone().expect("a status was written")
}

const EXTERNAL: &str = "  amqp: {external: {urlSecretRef: {name: broker, key: url}}}\n";

#[tokio::test]
async fn queue_depths_and_chain_reachability_land_in_the_status() {
    let vhost = Vhost::create("reconcile");
    vhost.fill("koinos.rpc.block_store", 4).await;
    let cluster = devnet_with(EXTERNAL);
    let (api, ctx) = setup(&cluster, &vhost.url()).await;

    let action = reconcile(Arc::new(cluster), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(INTERVAL));
    let s = status(&api);
    assert_eq!(s.services["blockStore"].queue_depth, Some(4));
    assert_eq!(
        s.services["mempool"].queue_depth,
        Some(0),
        "not declared yet"
    );
    assert_eq!(s.services["jsonrpc"].queue_depth, None, "no RPC queue");
    // Nothing serves koinos.rpc.chain on this vhost.
    let c = find(&s, CHAIN_REACHABLE).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "ChainUnavailable")
    );
    assert_eq!(
        c.message,
        "the chain service did not answer get_head_info within 3s"
    );
    assert_eq!(s.chain, None);
    let events = api
        .writes()
        .into_iter()
        .filter(|w| w.path.contains("/events"))
        .count();
    assert_eq!(events, 1, "one Event for the new ChainUnavailable");

    // Same broker, same answers: the next pass writes nothing at all.
    api.clear_writes();
    reconcile(stored(&api), ctx.clone()).await.unwrap();
    assert_eq!(api.writes(), Vec::<Write>::new());

    // The backlog grows: the status follows.
    vhost.fill_more("koinos.rpc.block_store", 2, 6).await;
    reconcile(stored(&api), ctx).await.unwrap();
    assert_eq!(status(&api).services["blockStore"].queue_depth, Some(6));
}

#[tokio::test]
async fn an_unreachable_broker_is_a_condition_not_a_reconcile_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let cluster = devnet_with(EXTERNAL);
    let (api, ctx) = setup(&cluster, &format!("amqp://u:p@127.0.0.1:{port}/")).await;
    let action = reconcile(Arc::new(cluster), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(INTERVAL));
    let s = status(&api);
    let c = find(&s, CHAIN_REACHABLE).unwrap();
    assert_eq!(c.reason, "BrokerUnavailable");
    assert_eq!(
        c.message,
        format!("cannot connect to the cluster's broker at amqp://127.0.0.1:{port}/")
    );
    assert!(s.services.values().all(|svc| svc.queue_depth.is_none()));
    api.clear_writes();
    reconcile(stored(&api), ctx).await.unwrap();
    assert_eq!(api.writes(), Vec::<Write>::new());
}

#[tokio::test]
async fn an_unready_managed_broker_and_a_stopped_cluster_are_said_so() {
    // The managed broker's StatefulSet never turns ready in the fake API server.
    let cluster = devnet_with("");
    let (api, ctx) = setup(&cluster, "amqp://unused/").await;
    let action = reconcile(Arc::new(cluster), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(INTERVAL));
    assert_eq!(
        find(&status(&api), CHAIN_REACHABLE).unwrap().reason,
        "BrokerNotReady"
    );

    let stopped = devnet_with("  clusterOperation: {stopped: true}\n");
    let (api, ctx) = setup(&stopped, "amqp://unused/").await;
    let action = reconcile(Arc::new(stopped), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(RESYNC), "nothing to keep fresh");
    assert_eq!(
        find(&status(&api), CHAIN_REACHABLE).unwrap().reason,
        "Stopped"
    );
}
