//! Queue-depth autoscaling end to end, with no Prometheus, adapter or KEDA: the operator's
//! `external.metrics.k8s.io` server (run here, on this machine) reads a cluster's RPC queue
//! from the real local RabbitMQ, the real kube-aggregator proxies the HPA controller's requests
//! to it (front-proxy certificate, SubjectAccessReview), and the real kube-controller-manager
//! scales the block store up while the backlog waits and back down once it is gone.
//!
//! The APIService is cluster-wide, so only this test registers it; it points at a selector-less
//! Service whose EndpointSlice holds this machine's address (up.sh enables aggregator routing
//! to endpoints). It is removed before the server stops, so discovery never sees it dead.

use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use koinos_e2e::cluster::ControlPlane;
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, create_prerequisites};
use koinos_e2e::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, install_operator, service_account_client,
};
use koinos_e2e::koinos::TEST_FIELD_MANAGER;
use koinos_e2e::operator::Operator;
use koinos_e2e::{KoinosClusters, TestNamespace, wait_until};
use koinos_operator::broker::{AmqpBrokerReader, ReaderOptions};
use koinos_operator::metrics_api::{MetricsApiServer, ServingCert};
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const CLUSTER: &str = "qd";
const QUEUE: &str = "koinos.rpc.block_store";
const APISERVICE: &str = "v1beta1.external.metrics.k8s.io";
/// Messages waiting / target per replica = 12 / 5: the HPA wants ceil(2.4) = 3 replicas.
const BACKLOG: u32 = 12;
const TARGET_QUEUE_DEPTH: u32 = 5;

// Several workers: the controller, the metrics API and the broker reader share this runtime
// while the test polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hpa_scales_a_store_on_its_rpc_queue_depth() -> Result<()> {
    // RUST_LOG=koinos_operator=debug shows the operator's and the metrics API's logs.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    grant_delegated_auth(&cp.client).await?;
    let vhost = Vhost::create("queue-depth")?;
    let channel = vhost.channel().await?;
    declare_rpc_queue(&channel).await?;
    publish(&channel, BACKLOG).await?;

    let ns = TestNamespace::create(&cp.client, "qdepth").await?;
    create_prerequisites(&cp.client, &ns.name).await?;
    apply(
        &cp.client,
        &ns.name,
        &ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "broker"},
               "stringData": {"url": vhost.url()}}),
    )
    .await?;
    let operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let autoscaling = json!({"enabled": true, "minReplicas": 1, "maxReplicas": 3,
        "targetQueueDepth": TARGET_QUEUE_DEPTH, "scaleDownStabilizationSeconds": 0});
    kcs.apply(
        CLUSTER,
        json!({"metadata": {"name": CLUSTER}, "spec": {
            "network": {"genesis": {"configMapRef": {"name": "mainnet-genesis"}}},
            "amqp": {"external": {"urlSecretRef": {"name": "broker", "key": "url"}}},
            "services": {"blockStore": {"autoscaling": autoscaling}},
        }}),
    )
    .await?;

    // The metrics API as `koinos-operator run` serves it, with the operator's own identity.
    let operator_client =
        service_account_client(&cp, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT).await?;
    let reader = AmqpBrokerReader::with_options(
        operator_client.clone(),
        Some(ns.name.clone()),
        ReaderOptions::default(),
    );
    let server = MetricsApiServer::bind(
        "0.0.0.0:0".parse()?,
        &ServingCert::SelfSigned {
            names: vec!["localhost".into()],
        },
        operator_client,
        Arc::new(reader),
    )
    .await?;
    let port = server.local_addr().port();
    let (stop_server, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    let registration = register_api_service(&cp, &ns.name, &host_ip()?, port).await?;

    // Through the aggregator: the admin reads the depth; a user without RBAC is refused by
    // the operator's SubjectAccessReview.
    let path = format!(
        "/apis/external.metrics.k8s.io/v1beta1/namespaces/{}/koinos_rpc_queue_depth\
         ?labelSelector=cluster%3D{CLUSTER}%2Cqueue%3D{QUEUE}",
        ns.name
    );
    let list: Value = wait_until(
        "the queue depth through the aggregator",
        CONVERGE_TIMEOUT,
        || async {
            let out = cp.kubectl(&["get", "--raw", &path])?;
            ensure!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(Some(serde_json::from_slice(&out.stdout)?))
        },
    )
    .await?;
    ensure!(list["kind"] == "ExternalMetricValueList", "{list}");
    let value = list["items"][0]["value"].as_str();
    ensure!(value == Some(BACKLOG.to_string().as_str()), "{list}");
    ensure!(
        list["items"][0]["metricLabels"] == json!({"cluster": CLUSTER, "queue": QUEUE}),
        "{list}"
    );
    let refused = cp.kubectl(&["get", "--raw", &path, "--as=e2e-stranger"])?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success() && stderr.contains("Forbidden"),
        "a user without RBAC read the metric: {stderr}"
    );

    // The real HPA controller scales block-store to ceil(12 / 5) = 3 and reports the metric.
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(cp.client.clone(), &ns.name);
    let sets: Api<StatefulSet> = Api::namespaced(cp.client.clone(), &ns.name);
    let name = format!("{CLUSTER}-block-store");
    let scaled_to = |replicas: i32| {
        let (hpas, sets, name) = (&hpas, &sets, &name);
        move || async move {
            let hpa = hpas.get(name).await?;
            let status = hpa.status.context("HPA status")?;
            let observed = observed_average(&status).unwrap_or(-1.0);
            let sts = sets.get(name).await?;
            let wanted = sts.spec.and_then(|s| s.replicas);
            let ready = sts.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            let done = status.desired_replicas == replicas
                && wanted == Some(replicas)
                && ready == replicas;
            Ok(done.then_some((status.current_replicas.unwrap_or(0), observed)))
        }
    };
    let (current, average) = wait_until(
        "the HPA to scale block-store up to 3",
        CONVERGE_TIMEOUT,
        scaled_to(3),
    )
    .await?;
    ensure!(
        current >= 1 && (average * f64::from(current) - f64::from(BACKLOG)).abs() < 0.01,
        "HPA currentMetrics average {average} x {current} replicas is not the backlog of {BACKLOG}"
    );

    // The backlog is consumed: depth 0, the HPA scales down to the floor.
    channel
        .queue_purge(QUEUE.into(), QueuePurgeOptions::default())
        .await?;
    wait_until(
        "the HPA to scale block-store down to 1",
        CONVERGE_TIMEOUT,
        scaled_to(1),
    )
    .await?;

    registration.remove().await?;
    let _ = stop_server.send(());
    serving.await??;
    operator.stop().await?;
    ns.delete().await
}

/// The HPA's view of the external metric: `currentMetrics[].external.current.averageValue`.
fn observed_average(
    status: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerStatus,
) -> Option<f64> {
    let metric = status
        .current_metrics
        .as_ref()?
        .iter()
        .find_map(|m| m.external.as_ref())?;
    if metric.metric.name != "koinos_rpc_queue_depth" {
        return None;
    }
    let quantity = &metric.current.average_value.as_ref()?.0;
    match quantity.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
        None => quantity.parse().ok(),
    }
}

/// What the chart grants with `externalMetrics.enabled`: TokenReview/SubjectAccessReview and
/// the request-header settings, for the operator's ServiceAccount.
async fn grant_delegated_auth(client: &Client) -> Result<()> {
    let subject = json!([{"kind": "ServiceAccount", "name": OPERATOR_SERVICE_ACCOUNT, "namespace": OPERATOR_NAMESPACE}]);
    let bindings = [
        (
            "ClusterRoleBinding",
            None,
            "koinos-e2e-operator:system:auth-delegator",
            "ClusterRole",
            "system:auth-delegator",
        ),
        (
            "RoleBinding",
            Some("kube-system"),
            "koinos-e2e-operator-auth-reader",
            "Role",
            "extension-apiserver-authentication-reader",
        ),
    ];
    for (kind, namespace, name, role_kind, role) in bindings {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "rbac.authorization.k8s.io",
            "v1",
            kind,
        ));
        let mut metadata = json!({"name": name});
        if let Some(namespace) = namespace {
            metadata["namespace"] = namespace.into();
        }
        let object = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subject});
        apply(client, namespace.unwrap_or_default(), &resource, object).await?;
    }
    Ok(())
}

/// Server-side apply of `object` (cluster-scoped when `namespace` is empty).
async fn apply(
    client: &Client,
    namespace: &str,
    resource: &ApiResource,
    object: Value,
) -> Result<()> {
    let name = object["metadata"]["name"]
        .as_str()
        .context("metadata.name")?
        .to_string();
    let api: Api<DynamicObject> = if namespace.is_empty() {
        Api::all_with(client.clone(), resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, resource)
    };
    let params = PatchParams::apply(TEST_FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&object))
        .await
        .with_context(|| format!("applying {} {name}", resource.kind))?;
    Ok(())
}

/// The registered APIService; [`Registration::remove`] takes it away (dropping does too, as
/// a last resort on a failed test, so other tests' discovery is not left with a dead API).
struct Registration {
    client: Client,
    /// For the synchronous removal on drop (the client needs the runtime being dropped).
    control_plane: ControlPlane,
    removed: bool,
}

fn api_services(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService");
    Api::all_with(client.clone(), &ApiResource::from_gvk(&gvk))
}

/// Service `external-metrics` (no selector) in `namespace`, its EndpointSlice at `ip:port`,
/// and the APIService; waits until the aggregator reports it Available.
async fn register_api_service(
    cp: &ControlPlane,
    namespace: &str,
    ip: &str,
    port: u16,
) -> Result<Registration> {
    let service = ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&());
    apply(&cp.client, namespace, &service, json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "external-metrics"},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port, "protocol": "TCP"}]}})).await?;
    let slice = ApiResource::erase::<k8s_openapi::api::discovery::v1::EndpointSlice>(&());
    apply(&cp.client, namespace, &slice, json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "external-metrics-1", "labels": {"kubernetes.io/service-name": "external-metrics"}},
        "addressType": "IPv4",
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}]})).await?;
    let gvk = GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService");
    apply(&cp.client, "", &ApiResource::from_gvk(&gvk), json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": APISERVICE},
        "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1",
                 "groupPriorityMinimum": 100, "versionPriority": 100, "insecureSkipTLSVerify": true,
                 "service": {"name": "external-metrics", "namespace": namespace, "port": 443}}})).await?;
    let registration = Registration {
        client: cp.client.clone(),
        control_plane: cp.clone(),
        removed: false,
    };
    let api = api_services(&cp.client);
    wait_until(
        "the APIService to be Available",
        CONVERGE_TIMEOUT,
        || async {
            let apiservice = api.get(APISERVICE).await?;
            let available = apiservice
                .data
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"))
                .cloned();
            match available {
                Some(c) if c["status"] == "True" => Ok(Some(())),
                other => bail!("Available: {other:?}"),
            }
        },
    )
    .await?;
    Ok(registration)
}

impl Registration {
    async fn remove(mut self) -> Result<()> {
        self.removed = true;
        api_services(&self.client)
            .delete(APISERVICE, &DeleteParams::default())
            .await?;
        Ok(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.control_plane.kubectl(&[
                "delete",
                "apiservice",
                APISERVICE,
                "--ignore-not-found",
                "--wait=false",
            ]);
        }
    }
}

/// This machine's first non-loopback IPv4 address (`E2E_HOST_IP` overrides): the API server
/// reaches the metrics API there, as it would reach a pod (Endpoints may not be loopback).
fn host_ip() -> Result<String> {
    if let Ok(ip) = std::env::var("E2E_HOST_IP") {
        return Ok(ip);
    }
    let out = Command::new("hostname")
        .arg("-I")
        .output()
        .context("running `hostname -I`")?;
    String::from_utf8(out.stdout)?
        .split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .map(str::to_string)
        .context("no non-loopback IPv4 address on this machine (set E2E_HOST_IP)")
}

/// A private vhost of the local RabbitMQ (guest may use it), deleted on drop.
struct Vhost(String);

fn rabbitmqctl(args: &[&str]) -> Result<()> {
    let out = Command::new("rabbitmqctl").arg("-q").args(args).output().context(
        "running rabbitmqctl: this test needs the local RabbitMQ (`bash scripts/ensure-rabbitmq.sh`)",
    )?;
    ensure!(
        out.status.success(),
        "rabbitmqctl {args:?} failed (is RabbitMQ running? `bash scripts/ensure-rabbitmq.sh`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

impl Vhost {
    fn create(test: &str) -> Result<Self> {
        let name = format!("koinos-e2e-{test}-{}", std::process::id());
        rabbitmqctl(&["add_vhost", &name])?;
        let vhost = Self(name);
        rabbitmqctl(&["set_permissions", "-p", &vhost.0, "guest", ".*", ".*", ".*"])?;
        Ok(vhost)
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.0)
    }

    async fn channel(&self) -> Result<lapin::Channel> {
        let conn = lapin::Connection::connect(&self.url(), ConnectionProperties::default())
            .await
            .with_context(|| format!("connecting to {} (is RabbitMQ running?)", self.url()))?;
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_vhost", &self.0]);
    }
}

/// `koinos.rpc` (direct, durable) and `koinos.rpc.block_store` (durable, bound by its name),
/// declared as the services declare them; no consumer, so requests wait.
async fn declare_rpc_queue(channel: &lapin::Channel) -> Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            "koinos.rpc".into(),
            ExchangeKind::Direct,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(QUEUE.into(), durable_queue, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            QUEUE.into(),
            "koinos.rpc".into(),
            QUEUE.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// `count` RPC requests to block_store, each confirmed by the broker.
async fn publish(channel: &lapin::Channel, count: u32) -> Result<()> {
    let properties =
        BasicProperties::default().with_content_type("application/octet-stream".into());
    for _ in 0..count {
        channel
            .basic_publish(
                "koinos.rpc".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                b"",
                properties.clone(),
            )
            .await?
            .await?;
    }
    Ok(())
}
