//! `spec.amqp.external` over `amqps://` with the broker's CA from a Secret
//! (`tls.caSecretRef`): the operator (in this process, under the install.yaml ServiceAccount)
//! reads the host RabbitMQ's TLS listener (127.0.0.1:5671, a certificate for `localhost` signed
//! by the test CA) with the CA it reads from the Secret: an extra service's backlog becomes
//! `status.services.<name>.queueDepth` and the metrics API's depth, and a stand-in chain on the
//! same broker gives `status.chain`. Every workload mounts the CA. Without the CA Secret the
//! cluster is Stalled naming it, and comes back when it appears.
//!
//! Needs RabbitMQ with its TLS listener and test CA (scripts/ensure-rabbitmq.sh).

mod broker_support;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use broker_support::Vhost;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, create_prerequisites, wait_condition};
use koinos_e2e::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, install_operator, service_account_client,
};
use koinos_e2e::koinos::{TEST_FIELD_MANAGER, condition};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use koinos_operator::broker::{AmqpBrokerReader, BrokerReader, ReaderOptions};
use koinos_operator::controller::{BrokerOptions, ControllerOptions, run_with_broker};
use koinos_operator::metrics::Metrics;
use koinos_protocol::BlockTopology;
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetChainIdResponse, GetHeadInfoResponse, chain_request,
    chain_response,
};
use koinos_services::mq::{CaBundle, Connection, RpcServer};
use kube::api::{Patch, PatchParams};
use prost::Message;
use serde_json::{Value, json};

const CLUSTER: &str = "tls";
const QUEUE: &str = "acme.tls";
const BACKLOG: u32 = 5;
const HEAD_HEIGHT: u64 = 4242;

fn tls_dir() -> PathBuf {
    std::env::var_os("KOINOS_RABBITMQ_TLS_DIR")
        .map_or_else(|| PathBuf::from("/etc/rabbitmq/koinos-tls"), PathBuf::from)
}

fn test_ca() -> Result<String> {
    let path = tls_dir().join("ca.pem");
    std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (the test CA): run scripts/ensure-rabbitmq.sh",
            path.display()
        )
    })
}

/// A stand-in chain service on the vhost, itself connected over amqps: it answers
/// `get_head_info` at [`HEAD_HEIGHT`] and `get_chain_id`.
fn stand_in_chain(url: &str, ca: &CaBundle) -> Result<Connection> {
    let conn = Connection::connect_supervised_with(url, Some(ca))?;
    let server = conn.clone();
    tokio::spawn(async move {
        RpcServer::serve(&server, "chain", 2, |body: Vec<u8>| async move {
            let request = ChainRequest::decode(body.as_slice()).ok()?;
            let response = match request.request? {
                chain_request::Request::GetHeadInfo(_) => {
                    chain_response::Response::GetHeadInfo(GetHeadInfoResponse {
                        head_topology: Some(BlockTopology {
                            id: vec![0x12, 0x20, 7],
                            height: HEAD_HEIGHT,
                            previous: vec![],
                        }),
                        last_irreversible_block: HEAD_HEIGHT - 60,
                        ..Default::default()
                    })
                }
                chain_request::Request::GetChainId(_) => {
                    chain_response::Response::GetChainId(GetChainIdResponse {
                        chain_id: vec![1, 2, 3],
                    })
                }
                _ => return None,
            };
            Some(
                ChainResponse {
                    response: Some(response),
                }
                .encode_to_vec(),
            )
        })
        .await
    });
    Ok(conn)
}

async fn apply_secret(ns: &TestNamespace, name: &str, data: Value) -> Result<()> {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "stringData": data});
    ns.api::<Secret>()
        .patch(
            name,
            &PatchParams::apply(TEST_FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    Ok(())
}

/// The names of the volumes every workload of the cluster mounts the CA from.
async fn ca_volume_secrets(ns: &TestNamespace) -> Result<Vec<(String, Option<String>)>> {
    let sets = ns.api::<StatefulSet>().list(&Default::default()).await?;
    let deployments = ns.api::<Deployment>().list(&Default::default()).await?;
    let specs = sets
        .items
        .into_iter()
        .map(|s| (s.metadata.name, s.spec.and_then(|s| s.template.spec)))
        .chain(
            deployments
                .items
                .into_iter()
                .map(|d| (d.metadata.name, d.spec.and_then(|s| s.template.spec))),
        );
    Ok(specs
        .map(|(name, spec)| {
            let secret = spec
                .and_then(|spec| spec.volumes)
                .into_iter()
                .flatten()
                .find(|v| v.name == "amqp-ca")
                .and_then(|v| v.secret)
                .and_then(|s| s.secret_name);
            (name.unwrap_or_default(), secret)
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_reads_an_amqps_broker_with_the_ca_from_a_secret() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ca_pem = test_ca()?;
    let vhost = Vhost::create("amqps");
    vhost.backlog(QUEUE, BACKLOG).await?;
    let url = format!("amqps://guest:guest@localhost:5671/{}", vhost.0);
    let chain = stand_in_chain(&url, &CaBundle::from_pem(ca_pem.as_bytes(), "test CA")?)?;

    let ns = TestNamespace::create(&cp.client, "amqps").await?;
    create_prerequisites(&cp.client, &ns.name).await?;
    apply_secret(&ns, "broker", json!({"url": url})).await?;
    let client = service_account_client(&cp, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT).await?;
    let reader = AmqpBrokerReader::with_options(
        client.clone(),
        Some(ns.name.clone()),
        ReaderOptions::default(),
    );
    let options = ControllerOptions {
        namespace: Some(ns.name.clone()),
        instance: Some(format!("e2e-{}", ns.name)),
        ..ControllerOptions::default()
    };
    let broker = BrokerOptions {
        reader,
        chain_status_interval: Duration::from_secs(2),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(run_with_broker(
        client.clone(),
        options,
        broker,
        Metrics::new(),
        async move {
            let _ = stopped.await;
        },
    ));

    // 1. The CA Secret does not exist yet: Stalled, naming it and the field.
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    kcs.apply(
        CLUSTER,
        json!({"metadata": {"name": CLUSTER}, "spec": {
            "network": {"genesis": {"configMapRef": {"name": "mainnet-genesis"}}},
            "amqp": {"external": {
                "urlSecretRef": {"name": "broker", "key": "url"},
                "tls": {"caSecretRef": {"name": "broker-ca", "key": "ca.crt"}},
            }},
            "extraServices": [{"name": "indexer", "image": "example.com/acme/indexer:1",
                               "queue": QUEUE}],
        }}),
    )
    .await?;
    let stalled = wait_condition(&kcs, CLUSTER, "Stalled", "True").await?;
    let stalled = condition(&stalled, "Stalled").context("Stalled")?;
    ensure!(
        stalled["reason"] == "MissingBrokerCaSecret"
            && stalled["message"].as_str().is_some_and(|m| {
                m.contains("broker-ca") && m.contains("spec.amqp.external.tls.caSecretRef")
            }),
        "Stalled: {stalled}"
    );

    // 2. The CA appears: every workload mounts it, and the operator reads over amqps.
    apply_secret(&ns, "broker-ca", json!({"ca.crt": ca_pem})).await?;
    let depth = wait_until(
        "status.services.indexer.queueDepth over amqps",
        CONVERGE_TIMEOUT,
        || async {
            let kc = kcs.api.get(CLUSTER).await?;
            Ok(kc
                .data
                .pointer("/status/services/indexer/queueDepth")
                .and_then(Value::as_i64))
        },
    )
    .await?;
    ensure!(
        depth == i64::from(BACKLOG),
        "queueDepth {depth}, not {BACKLOG}"
    );
    let height = wait_until(
        "status.chain.headHeight over amqps",
        CONVERGE_TIMEOUT,
        || async {
            let kc = kcs.api.get(CLUSTER).await?;
            Ok(kc
                .data
                .pointer("/status/chain/headHeight")
                .and_then(|h| h.as_u64().or_else(|| h.as_str()?.parse().ok())))
        },
    )
    .await?;
    ensure!(height == HEAD_HEIGHT, "headHeight {height}");
    let served = AmqpBrokerReader::with_options(client, Some(ns.name.clone()), Default::default())
        .queue_depth(&ns.name, CLUSTER, QUEUE)
        .await
        .context("the depth the metrics API serves")?;
    ensure!(served == u64::from(BACKLOG), "metrics API depth {served}");
    let mounts = ca_volume_secrets(&ns).await?;
    ensure!(
        mounts.len() > 5
            && mounts
                .iter()
                .all(|(_, secret)| secret.as_deref() == Some("broker-ca")),
        "the workloads' CA volumes: {mounts:?}"
    );

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), operator)
        .await
        .context("the operator did not stop")???;
    chain.close().await;
    ns.delete().await
}
