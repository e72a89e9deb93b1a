use super::*;
use crate::broker::ReadFailure;
use crate::crd::status::ChainStatus;
use crate::test_support::{DEVNET, validated};

fn at(seconds: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
}

fn head(height: u64, block_time: i64) -> ChainStatus {
    ChainStatus {
        head_height: height,
        last_irreversible_block: height.saturating_sub(5),
        head_block_time: Some(at(block_time)),
        ..ChainStatus::default()
    }
}

fn read(
    head: Option<Result<ChainStatus, ReadFailure>>,
    queues: &[(&str, u64, u64)],
) -> BrokerObservation {
    BrokerObservation::Read(ClusterReading {
        head,
        queue_depths: queues.iter().map(|(s, d, _)| (s.to_string(), *d)).collect(),
        queue_consumers: queues.iter().map(|(s, _, c)| (s.to_string(), *c)).collect(),
    })
}

/// The exposition lines of the cluster gauges.
fn series(metrics: &Metrics) -> Vec<String> {
    metrics
        .render()
        .lines()
        .filter(|l| {
            l.starts_with("koinos_operator_chain") || l.starts_with("koinos_operator_queue")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn a_read_sets_chain_and_queue_gauges_labelled_by_cluster() {
    let metrics = Metrics::new();
    let vc = validated(DEVNET);
    let observation = read(
        Some(Ok(head(120, 1_000))),
        &[("blockStore", 7, 2), ("chain", 0, 1)],
    );
    record(&metrics, &vc, Some(&observation), &at(1_012));
    let lines = series(&metrics);
    for expected in [
        r#"koinos_operator_chain_head_height{cluster="devnet",namespace="koinos"} 120"#,
        r#"koinos_operator_chain_last_irreversible_block{cluster="devnet",namespace="koinos"} 115"#,
        r#"koinos_operator_chain_lag_seconds{cluster="devnet",namespace="koinos"} 12"#,
        r#"koinos_operator_chain_reachable{cluster="devnet",namespace="koinos"} 1"#,
        r#"koinos_operator_queue_depth{cluster="devnet",namespace="koinos",queue="koinos.rpc.block_store",service="blockStore"} 7"#,
        r#"koinos_operator_queue_consumers{cluster="devnet",namespace="koinos",queue="koinos.rpc.block_store",service="blockStore"} 2"#,
        r#"koinos_operator_queue_consumers{cluster="devnet",namespace="koinos",queue="koinos.rpc.chain",service="chain"} 1"#,
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} not in {lines:#?}"
        );
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("koinos_operator_queue_depth"))
            .count(),
        2,
        "only the queues read: {lines:#?}"
    );
}

#[test]
fn a_failed_read_keeps_the_height_and_drops_unread_queues() {
    let metrics = Metrics::new();
    let vc = validated(DEVNET);
    let ok = read(Some(Ok(head(120, 1_000))), &[("blockStore", 7, 2)]);
    record(&metrics, &vc, Some(&ok), &at(1_003));
    let failed = read(
        Some(Err(ReadFailure::ChainTimeout {
            after: std::time::Duration::from_secs(2),
        })),
        &[],
    );
    record(&metrics, &vc, Some(&failed), &at(1_033));
    let lines = series(&metrics);
    assert!(
        lines.contains(
            &r#"koinos_operator_chain_head_height{cluster="devnet",namespace="koinos"} 120"#
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(
            &r#"koinos_operator_chain_reachable{cluster="devnet",namespace="koinos"} 0"#
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("koinos_operator_queue")),
        "a depth that could not be read is absent, never stale: {lines:#?}"
    );
    // Not ready: unreachable, no queues.
    record(
        &metrics,
        &vc,
        Some(&BrokerObservation::BrokerNotReady),
        &at(1_063),
    );
    assert!(series(&metrics).contains(
        &r#"koinos_operator_chain_reachable{cluster="devnet",namespace="koinos"} 0"#.to_string()
    ));
}

#[test]
fn stopped_or_forgotten_clusters_have_no_series_and_others_keep_theirs() {
    let metrics = Metrics::new();
    let devnet = validated(DEVNET);
    let other = validated(&DEVNET.replace("name: devnet", "name: other"));
    let ok = read(Some(Ok(head(9, 1_000))), &[("mempool", 1, 1)]);
    record(&metrics, &devnet, Some(&ok), &at(1_001));
    record(&metrics, &other, Some(&ok), &at(1_001));
    record(
        &metrics,
        &devnet,
        Some(&BrokerObservation::Stopped),
        &at(1_031),
    );
    assert!(
        series(&metrics)
            .iter()
            .all(|l| !l.contains(r#"cluster="devnet""#))
    );
    assert_eq!(series(&metrics).len(), 6, "{:#?}", series(&metrics));
    retain(&metrics, |_, cluster| cluster != "other");
    assert!(series(&metrics).is_empty());
    // Brokers not read: nothing changes.
    record(&metrics, &devnet, None, &at(1_061));
    assert!(series(&metrics).is_empty());
}

#[test]
fn a_service_scaled_to_zero_has_no_consumers_series() {
    let metrics = Metrics::new();
    let vc = validated(&format!(
        "{DEVNET}  services: {{mempool: {{replicas: 0}}}}\n"
    ));
    let observation = read(None, &[("mempool", 3, 0), ("blockStore", 0, 0)]);
    record(&metrics, &vc, Some(&observation), &at(1));
    let lines = series(&metrics);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("koinos_operator_queue_depth") && l.contains("mempool"))
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("koinos_operator_queue_consumers") && l.contains("mempool")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("koinos_operator_queue_consumers") && l.contains("blockStore"))
    );
}

#[test]
fn a_disabled_chain_has_no_chain_series() {
    let metrics = Metrics::new();
    let vc = validated(DEVNET);
    record(
        &metrics,
        &vc,
        Some(&read(Some(Ok(head(3, 0))), &[])),
        &at(1),
    );
    record(
        &metrics,
        &vc,
        Some(&read(None, &[("blockStore", 0, 0)])),
        &at(2),
    );
    let lines = series(&metrics);
    assert!(
        !lines.iter().any(|l| l.starts_with("koinos_operator_chain")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("koinos_operator_queue_consumers") && l.ends_with(" 0"))
    );
}

#[test]
fn extra_services_queues_have_series_until_they_leave_the_spec() {
    let metrics = Metrics::new();
    let extras = format!(
        "{DEVNET}  extraServices:\n    - {{name: indexer, image: a, queue: acme.index}}\n    - {{name: idle, image: a, replicas: 0}}\n"
    );
    let vc = validated(&extras);
    let observation = read(None, &[("indexer", 4, 2), ("idle", 1, 0)]);
    record(&metrics, &vc, Some(&observation), &at(1));
    let lines = series(&metrics);
    for expected in [
        r#"koinos_operator_queue_depth{cluster="devnet",namespace="koinos",queue="acme.index",service="indexer"} 4"#,
        r#"koinos_operator_queue_consumers{cluster="devnet",namespace="koinos",queue="acme.index",service="indexer"} 2"#,
        r#"koinos_operator_queue_depth{cluster="devnet",namespace="koinos",queue="koinos.rpc.idle",service="idle"} 1"#,
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected}\n{lines:#?}"
        );
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("koinos_operator_queue_consumers") && l.contains("idle")),
        "replicas: 0 means no consumer on purpose: {lines:#?}"
    );
    // The indexer leaves the spec: its series go with it.
    let vc = validated(&extras.replace("    - {name: indexer, image: a, queue: acme.index}\n", ""));
    record(&metrics, &vc, Some(&read(None, &[("idle", 0, 0)])), &at(2));
    assert!(
        series(&metrics).iter().all(|l| !l.contains("indexer")),
        "{:#?}",
        series(&metrics)
    );
    forget(&metrics, "koinos", "devnet");
    assert!(series(&metrics).is_empty(), "{:#?}", series(&metrics));
}
