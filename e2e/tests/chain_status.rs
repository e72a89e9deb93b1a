//! `status.chain` comes from the cluster's own chain: a producing devnet of our binaries runs on
//! a private vhost of the local RabbitMQ, a KoinosCluster points its external broker Secret at
//! that vhost, and the operator (in this process, under the install.yaml ServiceAccount) reads
//! `chain.get_head_info` there with those credentials: `status.chain.headHeight` rises and
//! `kubectl get kc` shows HEIGHT and LIB.
//!
//! Needs RabbitMQ on 127.0.0.1:5672 with `rabbitmqctl` (scripts/ensure-rabbitmq.sh) and the
//! service binaries, which this test builds with cargo (fresh ones are not rebuilt).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Secret;
use koinos_e2e::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, install_operator, service_account_client,
};
use koinos_e2e::koinos::{TEST_FIELD_MANAGER, condition};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until, workspace_path};
use koinos_operator::broker::{AmqpBrokerReader, ReaderOptions};
use koinos_operator::controller::{BrokerOptions, ControllerOptions, run_with_broker};
use koinos_operator::metrics::Metrics;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const CLUSTER: &str = "chain-status";
/// Short, so the test sees the head move within seconds (the default is 30 s).
const CHAIN_STATUS_INTERVAL: Duration = Duration::from_secs(2);

fn run_ok(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A RabbitMQ vhost of this test, deleted on drop.
struct Vhost(String);

impl Vhost {
    fn create() -> Result<Self> {
        let name = format!("koinos-e2e-chain-status-{}", std::process::id());
        let hint = "rabbitmqctl on a running RabbitMQ (run scripts/ensure-rabbitmq.sh)";
        run_ok(Command::new("rabbitmqctl").args(["-q", "add_vhost", &name])).context(hint)?;
        run_ok(Command::new("rabbitmqctl").args([
            "-q",
            "set_permissions",
            "-p",
            &name,
            "guest",
            ".*",
            ".*",
            ".*",
        ]))
        .context(hint)?;
        Ok(Self(name))
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.0)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.0])
            .output();
    }
}

/// `koinos-devnet run` (six services as its children) in a directory of its own; SIGTERM on
/// drop stops them all.
struct Devnet {
    process: Child,
    dir: PathBuf,
}

impl Devnet {
    fn start(amqp: &str) -> Result<Self> {
        let target = workspace_path("target/debug");
        run_ok(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(workspace_path(""))
                .args(["build", "--quiet", "-p", "koinos-services", "--bins"]),
        )
        .context("building the service binaries")?;
        let dir = std::env::temp_dir().join(format!("koinos-e2e-devnet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let devnet = target.join("koinos-devnet");
        run_ok(Command::new(&devnet).args([
            "init",
            "--basedir",
            dir.to_str().context("temp dir path")?,
            "--amqp",
            amqp,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--block-interval-ms",
            "500",
        ]))?;
        let log = std::fs::File::create(dir.join("devnet.log"))?;
        let process = Command::new(&devnet)
            .args(["run", "--quiet", "--basedir"])
            .arg(&dir)
            .arg("--bin-dir")
            .arg(&target)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting koinos-devnet run")?;
        Ok(Self { process, dir })
    }

    fn log_tail(&self) -> String {
        let logs = self.dir.join("logs");
        let mut out = String::new();
        for service in ["chain", "block_producer"] {
            let text =
                std::fs::read_to_string(logs.join(format!("{service}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {service} ---\n"));
            out.push_str(&lines[lines.len().saturating_sub(15)..].join("\n"));
            out.push('\n');
        }
        out
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.process.id().to_string()])
            .status();
        for _ in 0..400 {
            if let Ok(Some(_)) = self.process.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn chain_field(kc: &kube::api::DynamicObject, field: &str) -> Option<u64> {
    kc.data.pointer(&format!("/status/chain/{field}"))?.as_u64()
}

#[tokio::test]
async fn status_chain_follows_the_clusters_own_chain() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let vhost = Vhost::create()?;
    let devnet = Devnet::start(&vhost.url())?;
    let ns = TestNamespace::create(&cp.client, "chain").await?;

    let secrets = ns.api::<Secret>();
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "devnet-broker"},
        "stringData": {"url": vhost.url()}});
    secrets
        .patch(
            "devnet-broker",
            &PatchParams::apply(TEST_FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;

    let client = service_account_client(&cp, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT).await?;
    let options = ControllerOptions {
        namespace: Some(ns.name.clone()),
        instance: Some(format!("e2e-{}", ns.name)),
        ..ControllerOptions::default()
    };
    let broker = BrokerOptions {
        reader: AmqpBrokerReader::with_options(
            client.clone(),
            Some(ns.name.clone()),
            ReaderOptions::default(),
        ),
        chain_status_interval: CHAIN_STATUS_INTERVAL,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = Metrics::new();
    let operator = tokio::spawn(run_with_broker(
        client,
        options,
        broker,
        metrics.clone(),
        async move {
            let _ = stopped.await;
        },
    ));

    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let manifest = json!({
        "apiVersion": "koinos.io/v1alpha1", "kind": "KoinosCluster",
        "metadata": {"name": CLUSTER},
        "spec": {
            "network": {"devnet": {}},
            "amqp": {"external": {"urlSecretRef": {"name": "devnet-broker", "key": "url"}}},
        },
    });
    kcs.apply(CLUSTER, manifest).await?;

    // The devnet needs a few seconds to start producing; then the head must move on its own.
    let first = wait_until(
        "status.chain.headHeight > 0",
        Duration::from_secs(120),
        || async {
            let kc = kcs.api.get(CLUSTER).await?;
            Ok(chain_field(&kc, "headHeight").filter(|h| *h > 0))
        },
    )
    .await
    .with_context(|| devnet.log_tail())?;
    let kc = wait_until(
        "status.chain.headHeight to rise",
        Duration::from_secs(60),
        || async {
            let kc = kcs.api.get(CLUSTER).await?;
            Ok(chain_field(&kc, "headHeight")
                .is_some_and(|h| h > first)
                .then_some(kc))
        },
    )
    .await
    .with_context(|| devnet.log_tail())?;
    let reachable = condition(&kc, "ChainReachable").context("no ChainReachable condition")?;
    ensure!(
        reachable["status"] == "True" && reachable["reason"] == "HeadRead",
        "ChainReachable: {reachable}"
    );
    let head_id = kc
        .data
        .pointer("/status/chain/headId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ensure!(
        head_id.starts_with("0x1220") && head_id.len() == 2 + 68,
        "headId {head_id:?} is not a 0x-hex sha256 multihash"
    );
    let lib = chain_field(&kc, "lastIrreversibleBlock").context("no LIB")?;
    // A producing devnet is current: its head block is seconds old.
    let synced = condition(&kc, "Synced").context("no Synced condition")?;
    ensure!(
        synced["status"] == "True" && synced["reason"] == "HeadCurrent",
        "Synced: {synced}"
    );
    let chain = kc
        .data
        .pointer("/status/chain")
        .cloned()
        .unwrap_or_default();
    ensure!(
        chain["headBlockTime"].is_string()
            && chain["lag"].as_str().is_some_and(|l| l.ends_with('s'))
            && chain["chainId"]
                .as_str()
                .is_some_and(|c| c.starts_with("Ei") && c.len() == 48),
        "status.chain: {chain}"
    );

    let table = cp.kubectl_ok(&["get", "kc", "-n", &ns.name])?;
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .context("no header")?
        .split_whitespace()
        .collect();
    let row: Vec<&str> = lines.next().context("no row")?.split_whitespace().collect();
    let column = |name: &str| -> Result<u64> {
        let i = header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("no {name} column in {header:?}"))?;
        row.get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{name} is not a number in {row:?}"))
    };
    let (height, shown_lib) = (column("HEIGHT")?, column("LIB")?);
    ensure!(
        height > first,
        "HEIGHT {height} (status had {first} before)"
    );
    ensure!(
        shown_lib >= lib && shown_lib <= height,
        "LIB {shown_lib}, height {height}"
    );
    let lag = header
        .iter()
        .position(|h| *h == "LAG")
        .and_then(|i| row.get(i))
        .with_context(|| format!("no LAG in {header:?} / {row:?}"))?;
    ensure!(lag.ends_with('s'), "LAG {lag}");
    eprintln!("[e2e] kubectl get kc:\n{table}");

    // Reconcile cost on a live chain: every pass writes the status (the head moved), and that
    // write must not itself trigger another pass: only the requeue (one per chain status
    // interval) and the children's changes do.
    let reconciles = || -> u64 {
        ["success", "paused", "invalid", "failure"]
            .iter()
            .map(|outcome| metrics.reconciles.with_label_values(&[outcome]).get())
            .sum()
    };
    let seconds = || {
        let h = metrics.duration.with_label_values::<&str>(&[]);
        (h.get_sample_sum(), h.get_sample_count())
    };
    let window = Duration::from_secs(20);
    let (before, (sum_before, count_before)) = (reconciles(), seconds());
    tokio::time::sleep(window).await;
    let passes = reconciles() - before;
    let (sum, count) = seconds();
    let mean_ms = 1000.0 * (sum - sum_before) / (count - count_before).max(1) as f64;
    let requeues = window.as_secs() / CHAIN_STATUS_INTERVAL.as_secs();
    eprintln!(
        "[e2e] {passes} reconciles in {window:?} of a live chain (requeue every {CHAIN_STATUS_INTERVAL:?}: {requeues}), {mean_ms:.1} ms each on average"
    );
    ensure!(
        passes <= requeues + 2,
        "{passes} reconciles in {window:?}: the operator's own status writes trigger passes"
    );

    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(30), operator).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => bail!("the operator failed: {error}"),
        Ok(Err(join)) => bail!("the operator panicked: {join}"),
        Err(_) => bail!("the operator did not shut down within 30 s"),
    }
    drop(devnet);
    ns.delete().await
}
