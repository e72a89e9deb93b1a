//! The real-pods tier: clusters whose pods are real containers on a real node
//! (`e2e/node/`: kubelet, containerd, CNI, kube-proxy, CoreDNS, a PV provisioner), built from the
//! images `scripts/images.sh` makes. Here are the things those tests need beyond the kwok tier:
//! the local image references, pod readiness, port-forwards to in-cluster Services, JSON-RPC
//! calls, and what a client needs to know about a generated devnet.

use std::io::{BufRead, BufReader};
use std::process::{Child as Process, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{DynamicObject, ListParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use crate::children::INSTANCE_LABEL;
use crate::cluster::ControlPlane;
use crate::install::{OPERATOR_NAMESPACE, install_operator_as_is};
use crate::koinos::{condition, install_crd, workspace_path};
use crate::wait::wait_until;

/// The broker image `scripts/images.sh` builds (Debian's rabbitmq-server): the default image
/// cannot be pulled here.
pub const LOCAL_RABBITMQ_IMAGE: &str = "localhost/koinos/rabbitmq:local";

/// How long a cluster of real pods may take to start on the 2-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(420);

/// `manifest` made runnable on this machine, where no registry is reachable, and otherwise
/// unchanged: its managed broker runs [`LOCAL_RABBITMQ_IMAGE`]. (Every service of a devnet or
/// a `genesis` network runs the koinos-services image, which is built here.)
pub fn for_this_machine(mut manifest: Value) -> Value {
    let spec = manifest["spec"]
        .as_object_mut()
        .expect("a KoinosCluster manifest has a spec");
    if spec.get("amqp").is_none_or(|a| a.get("external").is_none()) {
        let amqp = spec.entry("amqp").or_insert_with(|| json!({}));
        amqp["managed"]["image"] = LOCAL_RABBITMQ_IMAGE.into();
    }
    manifest
}

/// The cluster's pods (label `app.kubernetes.io/instance=<cluster>`).
pub async fn cluster_pods(client: &Client, namespace: &str, cluster: &str) -> Result<Vec<Pod>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    Ok(pods
        .list(&ListParams::default().labels(&format!("{INSTANCE_LABEL}={cluster}")))
        .await?
        .items)
}

/// Whether the pod runs, is Ready and is not being deleted.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.conditions
                    .as_ref()
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
}

/// A one-line account of a pod that is not ready: phase and waiting/terminated reasons.
pub fn pod_problem(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut reasons = Vec::new();
    for c in status.container_statuses.iter().flatten() {
        if let Some(state) = &c.state {
            if let Some(w) = &state.waiting {
                reasons.push(format!(
                    "{}: {}",
                    c.name,
                    w.reason.clone().unwrap_or_default()
                ));
            }
            if let Some(t) = &state.terminated {
                reasons.push(format!("{}: exited {}", c.name, t.exit_code));
            }
        }
        if c.restart_count > 0 {
            reasons.push(format!("{} restarts {}", c.name, c.restart_count));
        }
    }
    format!(
        "{} {} [{}]",
        pod.name_any(),
        status.phase.unwrap_or_default(),
        reasons.join(", ")
    )
}

/// Waits until the cluster has at least `min_pods` pods and every one of them is Ready.
pub async fn wait_pods_ready(
    client: &Client,
    namespace: &str,
    cluster: &str,
    min_pods: usize,
    timeout: Duration,
) -> Result<Vec<Pod>> {
    let what = format!("{min_pods}+ Ready pods of {namespace}/{cluster}");
    wait_until(&what, timeout, || async {
        let pods = cluster_pods(client, namespace, cluster).await?;
        let waiting: Vec<String> = pods
            .iter()
            .filter(|p| !pod_ready(p))
            .map(pod_problem)
            .collect();
        ensure!(
            pods.len() >= min_pods && waiting.is_empty(),
            "{} pods, not ready: {}",
            pods.len(),
            waiting.join("; ")
        );
        Ok(Some(pods))
    })
    .await
}

/// `kubectl port-forward` to `target` (e.g. `svc/devnet-jsonrpc`) on a free local port; the
/// forward ends when this is dropped. Reaches the cluster the way a person outside it does,
/// through the API server and the kubelet, on 127.0.0.1.
pub struct PortForward {
    process: Process,
    pub local_port: u16,
}

impl PortForward {
    pub fn start(cp: &ControlPlane, namespace: &str, target: &str, port: u16) -> Result<Self> {
        let kubectl = cp
            .bin_dir
            .as_ref()
            .map(|d| d.join("kubectl"))
            .context("E2E_BIN is not set")?;
        let mut process = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(["port-forward", "-n", namespace, "--address", "127.0.0.1"])
            .arg(target)
            .arg(format!(":{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting kubectl port-forward")?;
        // "Forwarding from 127.0.0.1:40123 -> 8080"
        let stdout = process.stdout.take().context("port-forward stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        // kubectl writes a line per connection; with the pipe closed it would die of SIGPIPE.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let local_port = line
            .split_once("127.0.0.1:")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok());
        match local_port {
            Some(local_port) => Ok(Self {
                process,
                local_port,
            }),
            None => {
                let _ = process.kill();
                bail!("kubectl port-forward {target} failed: {line:?}")
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.local_port)
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A JSON-RPC 2.0 call through curl (the e2e crate carries no HTTP client); the `result`, or an
/// error naming the JSON-RPC error.
pub fn json_rpc(url: &str, method: &str, params: Value) -> Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let out = Command::new("curl")
        .args([
            "-sS",
            "-m",
            "10",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
        ])
        .arg("--data-binary")
        .arg(body.to_string())
        .arg(url)
        .output()
        .context("running curl")?;
    ensure!(
        out.status.success(),
        "curl {method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{method}: {}", String::from_utf8_lossy(&out.stdout)))?;
    match response.get("result") {
        Some(result) => Ok(result.clone()),
        None => bail!("{method}: {}", response["error"]),
    }
}

/// Head height through JSON-RPC `chain.get_head_info`.
pub fn head_height(url: &str) -> Result<u64> {
    let info = json_rpc(url, "chain.get_head_info", json!({}))?;
    let height = &info["head_topology"]["height"];
    height
        .as_str()
        .and_then(|h| h.parse().ok())
        .or_else(|| height.as_u64())
        .with_context(|| format!("no head height in {info}"))
}

/// What `koinos-devnet init` writes as `devnet.json` (the koilib script's input), for a devnet
/// the operator generated: from its genesis ConfigMap and producer key Secret. The producer's
/// account is the funded one (the generated genesis gives it the initial balance).
pub async fn operator_devnet_info(
    client: &Client,
    namespace: &str,
    cluster: &str,
) -> Result<Value> {
    use koinos_protocol::devnet::{DEFAULT_INITIAL_BALANCE, DevnetToken};
    use koinos_protocol::genesis::{chain_id, genesis_from_json};

    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let genesis_cm = config_maps.get(&format!("{cluster}-genesis")).await?;
    let data = genesis_cm.data.unwrap_or_default();
    let genesis_json = data
        .get("genesis_data.json")
        .context("genesis ConfigMap without genesis_data.json")?;
    let genesis = genesis_from_json(genesis_json)?;
    let token = data
        .get("token-contract-id")
        .context("genesis ConfigMap without token-contract-id")?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let key = secrets.get(&format!("{cluster}-producer-key")).await?;
    let key_data = key.data.unwrap_or_default();
    let text = |k: &str| -> Result<String> {
        let bytes = key_data
            .get(k)
            .with_context(|| format!("producer key Secret without {k}"))?;
        Ok(String::from_utf8(bytes.0.clone())?)
    };
    let token_kind: DevnetToken = data
        .get("token")
        .context("genesis ConfigMap without token")?
        .parse()
        .map_err(anyhow::Error::msg)?;
    let info = token_kind.info();
    Ok(json!({
        "chain_id": URL_SAFE.encode(chain_id(&genesis)),
        "producer_address": text("address")?,
        "funded_account_address": text("address")?,
        "funded_account_wif": text("private.key")?,
        "token": token_kind.as_str(),
        "token_contract_id": token,
        "token_name": info.name,
        "token_symbol": info.symbol,
        "token_decimals": info.decimals,
        "initial_balance": DEFAULT_INITIAL_BALANCE.to_string(),
        "rpc_url": "",
        "amqp": "",
        "consensus": data.get("consensus").context("genesis ConfigMap without consensus")?,
        "pob_contract_id": data.get("pob-contract-id"),
        "vhp_contract_id": data.get("vhp-contract-id"),
    }))
}

/// Credentials of the cluster's managed broker, from its generated `<cluster>-amqp` Secret.
pub async fn broker_credentials(
    client: &Client,
    namespace: &str,
    cluster: &str,
) -> Result<(String, String)> {
    secret_credentials(client, namespace, &format!("{cluster}-amqp")).await
}

/// `username` and `password` of a broker user's Secret (the administrator's `<cluster>-amqp`,
/// a member's own `<cluster>-<component>-amqp`).
pub async fn secret_credentials(
    client: &Client,
    namespace: &str,
    secret: &str,
) -> Result<(String, String)> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let data = secrets.get(secret).await?.data.unwrap_or_default();
    let field = |k: &str| -> Result<String> {
        Ok(String::from_utf8(
            data.get(k)
                .with_context(|| format!("{secret} without {k}"))?
                .0
                .clone(),
        )?)
    };
    Ok((field("username")?, field("password")?))
}

/// Resident memory of every process in a pod on this machine's node (the kubelet puts them in
/// `kubepods` cgroups), in bytes: what the node's pods cost.
pub fn pods_rss_bytes() -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc")? {
        let path = entry?.path();
        let in_pod = std::fs::read_to_string(path.join("cgroup"))
            .is_ok_and(|cgroups| cgroups.contains("kubepods"));
        if !in_pod {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        total += kib * 1024;
    }
    Ok(total)
}

/// The operator's external metrics API, as the aggregator knows it.
pub const APISERVICE: &str = "v1beta1.external.metrics.k8s.io";

/// The operator Deployment from install.yaml is Available with a real pod, and the API server's
/// aggregator reaches the operator's external metrics API (APIService Available).
pub async fn operator_installed(cp: &ControlPlane) -> Result<()> {
    install_crd(&cp.client).await?;
    install_operator_as_is(cp)?;
    let deployments: Api<Deployment> = Api::namespaced(cp.client.clone(), OPERATOR_NAMESPACE);
    wait_until(
        "the operator Deployment to be Available (a real pod, Ready)",
        Duration::from_secs(180),
        || async {
            let d = deployments.get("koinos-operator").await?;
            let ready = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
            Ok((ready >= 1).then_some(()))
        },
    )
    .await?;
    let apiservices = Api::<DynamicObject>::all_with(
        cp.client.clone(),
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apiregistration.k8s.io",
            "v1",
            "APIService",
        )),
    );
    wait_until(
        "APIService v1beta1.external.metrics.k8s.io Available",
        Duration::from_secs(120),
        || async {
            let api = apiservices.get(APISERVICE).await?;
            let available = condition(&api, "Available").is_some_and(|c| c["status"] == "True");
            ensure!(
                available,
                "{}",
                condition(&api, "Available").cloned().unwrap_or_default()
            );
            Ok(Some(()))
        },
    )
    .await
}

pub fn devnet_example() -> Result<Value> {
    let path = workspace_path("manifests/examples/devnet.yaml");
    let text = std::fs::read_to_string(&path)?;
    Ok(for_this_machine(serde_yaml::from_str(&text)?))
}

/// Pods of [`small_devnet`]: chain, block_store, mempool, block_producer, jsonrpc and the
/// broker.
pub const SMALL_DEVNET_PODS: usize = 6;

/// The devnet example named `name` without the services a test of the broker or of scaling
/// does not need (grpc and the three indexers), so it fits the 2-core node beside the test.
pub fn small_devnet(name: &str) -> Result<Value> {
    let mut manifest = devnet_example()?;
    manifest["metadata"]["name"] = name.into();
    let services = &mut manifest["spec"]["services"];
    for off in [
        "grpc",
        "accountHistory",
        "contractMetaStore",
        "transactionStore",
    ] {
        services[off]["enabled"] = false.into();
    }
    Ok(manifest)
}
