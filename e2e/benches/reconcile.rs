//! Operator benchmark on the real control plane (run it with
//! `e2e/control-plane/with-control-plane.sh cargo bench -p koinos-e2e`):
//!
//! 1. latency: time from applying a devnet KoinosCluster to the operator having created all its
//!    children, p50 over 20 clusters, against a baseline measured in the same run: the same
//!    children server-side applied directly by this process, one after the other (the writes
//!    any operator must make);
//! 2. scale: 100 devnets created while the operator is down, then reconciled from scratch by a
//!    fresh operator: time to all children, and to all 100 Ready;
//! 3. the operator's peak RSS (it runs in a child process, so RSS is its own), against its RSS
//!    when idle.
//!
//! Timings come from the API server's audit log (`stageTimestamp`, microseconds), not polling.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child as Process, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use koinos_e2e::children::{CHILD_KINDS, api_resource};
use koinos_e2e::fixtures::expected_children;
use koinos_e2e::install::{install_operator, operator_username};
use koinos_e2e::koinos::{TEST_FIELD_MANAGER, condition};
use koinos_e2e::operator::Operator;
use koinos_e2e::{AuditLog, ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::Api;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

const CHILD_ENV: &str = "KOINOS_E2E_BENCH_OPERATOR_NAMESPACE";
const LATENCY_CLUSTERS: usize = 20;
const SCALE_CLUSTERS: usize = 100;

fn main() -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match std::env::var(CHILD_ENV) {
        Ok(namespace) => runtime.block_on(operator_process(&namespace)),
        Err(_) => runtime.block_on(bench()),
    }
}

/// The operator's own process: runs until killed.
async fn operator_process(namespace: &str) -> Result<()> {
    let cp = ControlPlane::connect().await?;
    let _operator = Operator::start(&cp, namespace).await?;
    std::future::pending::<()>().await;
    Ok(())
}

/// The operator in a child process watching `namespace`, killed on drop.
struct OperatorProcess(Process);

impl OperatorProcess {
    fn spawn(namespace: &str) -> Result<Self> {
        let exe = std::env::current_exe()?;
        Ok(Self(Command::new(exe).env(CHILD_ENV, namespace).spawn()?))
    }

    /// `(VmRSS, VmHWM)` in MiB from /proc: current and peak resident memory.
    fn rss_mib(&self) -> Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))?;
        let field = |name: &str| -> Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .context(name.to_owned())?;
            let kib: f64 = line.split_whitespace().nth(1).context("value")?.parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn devnet(name: &str) -> Value {
    json!({"apiVersion": "koinos.io/v1alpha1", "kind": "KoinosCluster",
           "metadata": {"name": name}, "spec": {"network": {"devnet": {}}}})
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (percentile(&samples, 0.5), percentile(&samples, 0.9))
}

/// `plural/name -> Kind/name` for every child kind, to match audit events to children.
fn kind_of_plural() -> BTreeMap<&'static str, &'static str> {
    CHILD_KINDS
        .iter()
        .map(|(_, _, kind, plural)| (*plural, *kind))
        .collect()
}

/// `Kind/name -> completion time` of the operator's first write of each child in `ns` (the
/// create, or the server-side apply that created it), from audit events after `position`.
fn first_writes(audit: &AuditLog, position: u64, ns: &str) -> Result<BTreeMap<String, f64>> {
    let kinds = kind_of_plural();
    let operator = operator_username();
    let mut first = BTreeMap::new();
    for e in audit.events_since(position)? {
        if e.actor() != operator || e.namespace.as_deref() != Some(ns) || e.subresource.is_some() {
            continue;
        }
        if let (Some(kind), Some(name), Some(at)) =
            (kinds.get(e.resource.as_str()), &e.name, e.completed_at())
        {
            first.entry(format!("{kind}/{name}")).or_insert(at);
        }
    }
    Ok(first)
}

/// The latest first write among `expected` children.
fn last_first_write(first: &BTreeMap<String, f64>, expected: &BTreeSet<String>) -> Result<f64> {
    expected
        .iter()
        .map(|key| {
            first
                .get(key)
                .copied()
                .with_context(|| format!("no operator write of {key}"))
        })
        .try_fold(f64::MIN, |last, at| Ok(last.max(at?)))
}

/// Seconds from the creation of KoinosCluster `cluster` to the operator's first write of its
/// last expected child.
fn time_to_children(
    audit: &AuditLog,
    position: u64,
    ns: &str,
    cluster: &str,
    expected: &BTreeSet<String>,
) -> Result<f64> {
    let created = audit
        .events_since(position)?
        .iter()
        .find(|e| {
            e.resource == "koinosclusters"
                && e.verb == "create"
                && e.name.as_deref() == Some(cluster)
        })
        .and_then(|e| e.completed_at())
        .context("no audit event for the cluster's creation")?;
    Ok(last_first_write(&first_writes(audit, position, ns)?, expected)? - created)
}

/// Waits until every expected child of `cluster` exists (by name).
async fn wait_children(cp: &ControlPlane, ns: &str, expected: &BTreeSet<String>) -> Result<()> {
    wait_until("all children", Duration::from_secs(300), || async {
        for key in expected {
            let (kind, name) = key.split_once('/').context("key")?;
            let api: Api<DynamicObject> =
                Api::namespaced_with(cp.client.clone(), ns, &api_resource(kind));
            if api.get_opt(name).await?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .await
}

/// The baseline: this process server-side applies a devnet's rendered children itself.
async fn direct_apply_seconds(cp: &ControlPlane, ns: &str, name: &str) -> Result<f64> {
    let rendered = koinos_operator::render::render(&serde_yaml::to_string(&devnet(name))?, ns)?;
    let objects: Vec<DynamicObject> = serde_yaml::Deserializer::from_str(&rendered)
        .map(|d| Ok(serde_json::from_value(Value::deserialize(d)?)?))
        .collect::<Result<_>>()?;
    let params = PatchParams::apply(TEST_FIELD_MANAGER).force();
    let start = Instant::now();
    for object in &objects {
        let kind = object.types.as_ref().context("kind")?.kind.clone();
        let api: Api<DynamicObject> =
            Api::namespaced_with(cp.client.clone(), ns, &api_resource(&kind));
        let object_name = object.metadata.name.clone().context("name")?;
        api.patch(&object_name, &params, &Patch::Apply(object))
            .await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

async fn bench() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let audit = AuditLog::new(&cp.audit_log);

    // Baseline: direct server-side apply of one devnet's rendered children.
    let base_ns = TestNamespace::create(&cp.client, "bench-base").await?;
    let mut baseline = Vec::new();
    for i in 0..LATENCY_CLUSTERS {
        baseline.push(direct_apply_seconds(&cp, &base_ns.name, &format!("base-{i}")).await?);
    }
    let (base_p50, base_p90) = summary(baseline);

    // Latency, one cluster at a time, with one warm-up cluster not counted.
    let lat_ns = TestNamespace::create(&cp.client, "bench-latency").await?;
    let operator = OperatorProcess::spawn(&lat_ns.name)?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (idle_rss, _) = operator.rss_mib()?;
    let kcs = KoinosClusters::new(&cp.client, &lat_ns.name);
    let mut latency = Vec::new();
    for i in 0..=LATENCY_CLUSTERS {
        let name = format!("lat-{i}");
        let expected = expected_children(&devnet(&name), &lat_ns.name)?;
        let position = audit.position()?;
        kcs.api
            .create(&Default::default(), &serde_json::from_value(devnet(&name))?)
            .await?;
        wait_children(&cp, &lat_ns.name, &expected).await?;
        if i > 0 {
            latency.push(time_to_children(
                &audit,
                position,
                &lat_ns.name,
                &name,
                &expected,
            )?);
        }
    }
    let (lat_p50, lat_p90) = summary(latency);
    drop(operator);

    // Scale: 100 clusters waiting for an operator, then one operator from scratch.
    let scale_ns = TestNamespace::create(&cp.client, "bench-scale").await?;
    let kcs = KoinosClusters::new(&cp.client, &scale_ns.name);
    let mut expected = BTreeSet::new();
    for i in 0..SCALE_CLUSTERS {
        let name = format!("scale-{i}");
        expected.extend(expected_children(&devnet(&name), &scale_ns.name)?);
        kcs.api
            .create(&Default::default(), &serde_json::from_value(devnet(&name))?)
            .await?;
    }
    let position = audit.position()?;
    let start = Instant::now();
    let operator = OperatorProcess::spawn(&scale_ns.name)?;
    let to_children = wait_until(
        "every child of 100 clusters",
        Duration::from_secs(600),
        || async {
            let first = first_writes(&audit, position, &scale_ns.name)?;
            Ok(last_first_write(&first, &expected).ok())
        },
    )
    .await?
        - start_epoch(start);
    let ready = wait_until("100 clusters Ready", Duration::from_secs(900), || async {
        let list = kcs.api.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|kc| condition(kc, "Ready").is_some_and(|c| c["status"] == "True"))
            .count();
        Ok((ready == SCALE_CLUSTERS).then_some(start.elapsed().as_secs_f64()))
    })
    .await?;
    let (_, peak_rss) = operator.rss_mib()?;
    drop(operator);

    println!(
        "koinos-operator reconcile benchmark (control plane {}, devnet clusters of {} children)",
        cp.client.apiserver_version().await?.git_version,
        expected.len() / SCALE_CLUSTERS
    );
    println!(
        "baseline   direct SSA of the rendered children, one cluster: p50 {:.3} s, p90 {:.3} s",
        base_p50, base_p90
    );
    println!(
        "latency    apply -> all children created, {LATENCY_CLUSTERS} clusters:   p50 {:.3} s, p90 {:.3} s  ({:.2}x baseline p50)",
        lat_p50,
        lat_p90,
        lat_p50 / base_p50
    );
    println!(
        "scale      {SCALE_CLUSTERS} clusters from scratch -> all children: {:.1} s  ({:.2}x {SCALE_CLUSTERS} x baseline p50)",
        to_children,
        to_children / (SCALE_CLUSTERS as f64 * base_p50)
    );
    println!(
        "scale      {SCALE_CLUSTERS} clusters from scratch -> all Ready:    {:.1} s",
        ready
    );
    println!(
        "memory     operator peak RSS {:.1} MiB ({:.2}x its idle RSS of {:.1} MiB)",
        peak_rss,
        peak_rss / idle_rss,
        idle_rss
    );

    for ns in [base_ns, lat_ns, scale_ns] {
        ns.delete().await?;
    }
    Ok(())
}

/// `start` as seconds since the Unix epoch.
fn start_epoch(start: Instant) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs_f64() - start.elapsed().as_secs_f64()
}
