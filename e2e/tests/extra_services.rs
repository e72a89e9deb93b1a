//! `spec.extraServices`: a user's own consumer joins a cluster as a member. With the managed
//! broker, its Deployment runs the user's image with the cluster's broker URL Secret, its pods
//! are ones the broker's NetworkPolicy admits to AMQP, its HPA scales it on its queue's
//! External metric, it has a PDB, and `status.services.<name>` and `servicesReady` count it;
//! removed from the list, its children and status entry go.
//! With an external broker (a vhost of the local RabbitMQ holding a backlog on the extra
//! service's queue), the operator reads that queue: `status.services.<name>.queueDepth` and the
//! broker reader the metrics API serves from both give the backlog. Invalid extra services are
//! refused by the API server naming the field, or (a queue shared by two extra services, which
//! CEL cannot see) stall the cluster naming it.
//!
//! Needs RabbitMQ on 127.0.0.1:5672 with `rabbitmqctl` (scripts/ensure-rabbitmq.sh).

mod broker_support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use broker_support::Vhost;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, create_prerequisites, wait_condition};
use koinos_e2e::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, install_operator, service_account_client,
};
use koinos_e2e::koinos::{TEST_FIELD_MANAGER, expect_refused_naming_fields};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, install_crd, wait_until};
use koinos_operator::broker::{AmqpBrokerReader, BrokerReader, ReaderOptions};
use koinos_operator::controller::{BrokerOptions, ControllerOptions, run_with_broker};
use koinos_operator::metrics::Metrics;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

const MANAGED: &str = "xs";
const EXTERNAL: &str = "xs-ext";
const QUEUE: &str = "acme.index";
const BACKLOG: u32 = 7;

/// The cluster's status entry of service `name`.
fn service_status<'a>(kc: &'a DynamicObject, name: &str) -> Option<&'a Value> {
    kc.data.pointer(&format!("/status/services/{name}"))
}

/// The operator with a broker reader confined to `namespace`, reading every 2 s.
fn start_operator(
    client: Client,
    namespace: &str,
    reader: AmqpBrokerReader,
) -> (
    tokio::task::JoinHandle<Result<(), kube::Error>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let options = ControllerOptions {
        namespace: Some(namespace.to_string()),
        instance: Some(format!("e2e-{namespace}")),
        ..ControllerOptions::default()
    };
    let broker = BrokerOptions {
        reader,
        chain_status_interval: Duration::from_secs(2),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_with_broker(
        client,
        options,
        broker,
        Metrics::new(),
        async move {
            let _ = stopped.await;
        },
    ));
    (task, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_service_is_a_member_of_the_cluster() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let vhost = Vhost::create("extra-services");
    vhost.backlog(QUEUE, BACKLOG).await?;
    let ns = TestNamespace::create(&cp.client, "extra").await?;
    create_prerequisites(&cp.client, &ns.name).await?;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "broker"},
        "stringData": {"url": vhost.url()}});
    ns.api::<Secret>()
        .patch(
            "broker",
            &PatchParams::apply(TEST_FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    let client = service_account_client(&cp, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT).await?;
    let reader = AmqpBrokerReader::with_options(
        client.clone(),
        Some(ns.name.clone()),
        ReaderOptions::default(),
    );
    let (operator, stop) = start_operator(client.clone(), &ns.name, reader);

    let extras = json!([
        {"name": "indexer", "image": "example.com/acme/indexer:1.2", "queue": QUEUE,
         "command": ["/bin/indexer"], "args": ["--queue=$(KOINOS_RPC_QUEUE)"],
         "env": [{"name": "INDEXER_DB", "value": "postgres://db"}],
         "autoscaling": {"enabled": true, "minReplicas": 1, "maxReplicas": 4, "targetQueueDepth": 5}},
        {"name": "notifier", "image": "example.com/acme/notifier:3", "replicas": 2},
    ]);
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    kcs.apply(
        MANAGED,
        json!({"metadata": {"name": MANAGED}, "spec": {
            "network": {"genesis": {"configMapRef": {"name": "mainnet-genesis"}}},
            "extraServices": extras,
        }}),
    )
    .await?;
    kcs.apply(
        EXTERNAL,
        json!({"metadata": {"name": EXTERNAL}, "spec": {
            "network": {"genesis": {"configMapRef": {"name": "mainnet-genesis"}}},
            "amqp": {"external": {"urlSecretRef": {"name": "broker", "key": "url"}}},
            "extraServices": [extras[0].clone()],
        }}),
    )
    .await?;

    // 1. Managed broker: the Deployment, the NetworkPolicy, the HPA, the PDB and the status.
    let kc = wait_condition(&kcs, MANAGED, "Ready", "True").await?;
    let indexer = format!("{MANAGED}-indexer");
    let deployments: Api<Deployment> = ns.api();
    let deployment = deployments.get(&indexer).await.context("the Deployment")?;
    let spec = deployment.spec.as_ref().context("Deployment spec")?;
    let pod = spec.template.spec.as_ref().context("pod spec")?;
    let container = &pod.containers[0];
    ensure!(container.image.as_deref() == Some("example.com/acme/indexer:1.2"));
    ensure!(container.command == Some(vec!["/bin/indexer".to_string()]));
    let env: BTreeMap<_, _> = container
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let url = env["KOINOS_AMQP_URL"]
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .context("KOINOS_AMQP_URL from a Secret")?;
    ensure!(
        // Its own broker user's Secret, never the administrator's `<cluster>-amqp`.
        url.name == format!("{MANAGED}-indexer-amqp") && url.key == "url",
        "the broker URL comes from {}/{}",
        url.name,
        url.key
    );
    ensure!(env["KOINOS_RPC_QUEUE"].value.as_deref() == Some(QUEUE));
    ensure!(env["INDEXER_DB"].value.as_deref() == Some("postgres://db"));

    let policy = ns
        .api::<NetworkPolicy>()
        .get(&format!("{MANAGED}-rabbitmq"))
        .await?;
    let amqp_peers: Vec<_> = policy
        .spec
        .and_then(|s| s.ingress)
        .unwrap_or_default()
        .into_iter()
        .filter(|rule| {
            rule.ports
                .iter()
                .flatten()
                .any(|p| p.port == Some(IntOrString::Int(5672)))
        })
        .flat_map(|rule| rule.from.unwrap_or_default())
        .filter(|peer| peer.namespace_selector.is_none())
        .filter_map(|peer| peer.pod_selector?.match_labels)
        .collect();
    let pods: Api<Pod> = ns.api();
    let mut admitted = 0;
    for labels in &amqp_peers {
        let selector = labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        admitted += pods
            .list(&ListParams::default().labels(&selector))
            .await?
            .items
            .iter()
            .filter(|p| {
                p.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&format!("{MANAGED}-notifier-")))
            })
            .count();
    }
    ensure!(
        admitted == 2,
        "the NetworkPolicy's AMQP peers {amqp_peers:?} select {admitted} of the notifier's 2 pods"
    );

    let hpa = ns
        .api::<HorizontalPodAutoscaler>()
        .get(&indexer)
        .await
        .context("the HPA")?;
    ensure!(
        hpa.spec.scale_target_ref.kind == "Deployment" && hpa.spec.scale_target_ref.name == indexer
    );
    let external = hpa.spec.metrics.as_ref().context("HPA metrics")?[0]
        .external
        .as_ref()
        .context("an External metric")?;
    let labels = external
        .metric
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .unwrap_or_default();
    ensure!(
        external.metric.name == "koinos_rpc_queue_depth"
            && labels.get("queue").map(String::as_str) == Some(QUEUE)
            && labels.get("cluster").map(String::as_str) == Some(MANAGED),
        "HPA metric {external:?}"
    );
    ensure!(
        ns.api::<HorizontalPodAutoscaler>()
            .get_opt(&format!("{MANAGED}-notifier"))
            .await?
            .is_none(),
        "no HPA without autoscaling"
    );
    for name in ["indexer", "notifier"] {
        ns.api::<PodDisruptionBudget>()
            .get(&format!("{MANAGED}-{name}"))
            .await
            .with_context(|| format!("the PDB of {name}"))?;
    }
    let notifier = service_status(&kc, "notifier").context("status.services.notifier")?;
    ensure!(
        notifier["desiredReplicas"] == 2
            && notifier["readyReplicas"] == 2
            && notifier["image"] == "example.com/acme/notifier:3",
        "status.services.notifier: {notifier}"
    );
    ensure!(
        service_status(&kc, "indexer").is_some_and(|s| s["readyReplicas"] == 1),
        "status.services.indexer: {:?}",
        service_status(&kc, "indexer")
    );
    // Nine Koinos services (no producer outside a devnet) and the two extra ones.
    ensure!(
        kc.data.pointer("/status/servicesReady") == Some(&json!("11/11")),
        "servicesReady {:?}",
        kc.data.pointer("/status/servicesReady")
    );

    // Removing an entry removes its children; the other extra service stays.
    kcs.patch_spec(MANAGED, json!({"extraServices": [extras[0].clone()]}))
        .await?;
    let notifier = format!("{MANAGED}-notifier");
    wait_until(
        "the notifier's Deployment and PDB to go",
        CONVERGE_TIMEOUT,
        || async {
            let deployment = deployments.get_opt(&notifier).await?;
            let pdb = ns.api::<PodDisruptionBudget>().get_opt(&notifier).await?;
            Ok((deployment.is_none() && pdb.is_none()).then_some(()))
        },
    )
    .await?;
    let kc = wait_condition(&kcs, MANAGED, "Ready", "True").await?;
    ensure!(
        service_status(&kc, "notifier").is_none()
            && kc.data.pointer("/status/servicesReady") == Some(&json!("10/10")),
        "status after removing the notifier: {:?}",
        kc.data.pointer("/status")
    );
    ensure!(deployments.get_opt(&indexer).await?.is_some());

    // 2. External broker: the extra service's queue is read like ours.
    let depth = wait_until(
        "status.services.indexer.queueDepth",
        CONVERGE_TIMEOUT,
        || async {
            let kc = kcs.api.get(EXTERNAL).await?;
            Ok(service_status(&kc, "indexer").and_then(|s| s["queueDepth"].as_i64()))
        },
    )
    .await?;
    ensure!(
        depth == i64::from(BACKLOG),
        "queueDepth {depth}, not {BACKLOG}"
    );
    let metrics_reader = AmqpBrokerReader::with_options(
        client.clone(),
        Some(ns.name.clone()),
        ReaderOptions::default(),
    );
    let served = metrics_reader
        .queue_depth(&ns.name, EXTERNAL, QUEUE)
        .await
        .context("the depth the metrics API serves")?;
    ensure!(
        served == u64::from(BACKLOG),
        "the metrics API's depth {served}, not {BACKLOG}"
    );
    let unknown = metrics_reader
        .queue_depth(&ns.name, EXTERNAL, "acme.other")
        .await;
    ensure!(
        unknown.is_err(),
        "a queue of no service is served: {unknown:?}"
    );

    // 3. Two extra services on one queue: the API server cannot see it; the operator stalls
    // naming the field.
    kcs.apply(
        "xs-shared",
        json!({"metadata": {"name": "xs-shared"}, "spec": {
            "network": {"genesis": {"configMapRef": {"name": "mainnet-genesis"}}},
            "extraServices": [
                {"name": "a", "image": "example.com/a:1", "queue": "acme.shared"},
                {"name": "b", "image": "example.com/b:1", "queue": "acme.shared"},
            ],
        }}),
    )
    .await?;
    let stalled = wait_condition(&kcs, "xs-shared", "Stalled", "True").await?;
    let condition = koinos_e2e::koinos::condition(&stalled, "Stalled").context("Stalled")?;
    ensure!(
        condition["reason"] == "InvalidSpec"
            && condition["message"]
                .as_str()
                .is_some_and(|m| m.contains("spec.extraServices[1].queue")),
        "Stalled: {condition}"
    );

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), operator)
        .await
        .context("the operator did not stop")???;
    ns.delete().await
}

/// Refused at admission (schema, CEL, the list-map key), naming the field.
#[tokio::test]
async fn invalid_extra_services_are_refused_naming_the_field() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_crd(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "extra-invalid").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let spec = |extra: Value| json!({"network": {"devnet": {}}, "extraServices": [extra]});
    expect_refused_naming_fields(
        &kcs,
        vec![
            (
                "a name that is no DNS label",
                spec(json!({"name": "Indexer", "image": "a"})),
                "spec.extraServices[0].name",
            ),
            (
                "a name of one of the operator's children",
                spec(json!({"name": "block-store", "image": "a"})),
                "spec.extraServices[0].name",
            ),
            (
                "a Koinos service's queue",
                spec(json!({"name": "x", "image": "a", "queue": "koinos.rpc.mempool"})),
                "spec.extraServices[0].queue",
            ),
            (
                "a broker-reserved queue",
                spec(json!({"name": "x", "image": "a", "queue": "amq.gen-1"})),
                "spec.extraServices[0].queue",
            ),
            (
                "a CPU target",
                spec(json!({"name": "x", "image": "a",
                    "autoscaling": {"enabled": true, "targetCpuUtilizationPercentage": 50}})),
                "spec.extraServices[0].autoscaling.targetCpuUtilizationPercentage",
            ),
            (
                "an env var the operator sets",
                spec(json!({"name": "x", "image": "a",
                    "env": [{"name": "KOINOS_AMQP_URL", "value": "amqp://elsewhere"}]})),
                "spec.extraServices[0].env",
            ),
            (
                "no image",
                spec(json!({"name": "x"})),
                "spec.extraServices[0].image",
            ),
            (
                "two extra services of one name",
                json!({"network": {"devnet": {}}, "extraServices": [
                    {"name": "twin", "image": "a"}, {"name": "twin", "image": "b"}]}),
                "spec.extraServices[1]",
            ),
        ],
    )
    .await?;

    ns.delete().await
}
