//! Merging broker readings into the status: what is kept, what is cleared, and that repeated
//! failures with varying error text leave the status byte-identical (no patch).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::super::{AVAILABLE, Observed, ObservedService, Outcome, READY, compute_status, find};
use super::*;
use crate::crd::status::KoinosClusterStatus;

fn at(seconds: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
}

fn observed(broker: Option<BrokerObservation>) -> Observed {
    let service = |name: &str| ObservedService {
        spec_name: name.into(),
        desired: 1,
        ready: 1,
        image: "img:v1".into(),
    };
    Observed {
        broker_ready: Some(true),
        broker_rolling_out: None,
        services: vec![service("chain"), service("blockStore"), service("jsonrpc")],
        broker,
        missing: Vec::new(),
        p2p: None,
        p2p_announce: None,
        monitoring: None,
        routes: None,
        broker_users: None,
    }
}

fn head(height: u64) -> ChainStatus {
    ChainStatus {
        head_height: height,
        head_id: format!("0x1220{height:064x}"),
        last_irreversible_block: height.saturating_sub(60),
        ..ChainStatus::default()
    }
}

fn read(head: Result<ChainStatus, ReadFailure>, depths: &[(&str, u64)]) -> BrokerObservation {
    BrokerObservation::Read(ClusterReading {
        head: Some(head),
        queue_depths: depths.iter().map(|(s, d)| (s.to_string(), *d)).collect(),
        ..ClusterReading::default()
    })
}

fn refused(detail: &str) -> ReadFailure {
    ReadFailure::Broker {
        endpoint: "amqp://demo-rabbitmq.ns.svc:5672/".into(),
        detail: detail.into(),
    }
}

fn pass(
    old: Option<&KoinosClusterStatus>,
    broker: Option<BrokerObservation>,
    now: i64,
) -> KoinosClusterStatus {
    compute_status(
        old,
        Some(1),
        &Outcome::Applied,
        Some(&observed(broker)),
        false,
        at(now),
    )
}

fn reachable(status: &KoinosClusterStatus) -> &Condition {
    find(status, CHAIN_REACHABLE).expect("ChainReachable present")
}

fn depths(status: &KoinosClusterStatus) -> BTreeMap<String, Option<i64>> {
    status
        .services
        .iter()
        .map(|(name, s)| (name.clone(), s.queue_depth))
        .collect()
}

#[test]
fn a_read_head_fills_status_chain_and_queue_depths() {
    let s = pass(
        None,
        Some(read(Ok(head(120)), &[("chain", 0), ("blockStore", 7)])),
        100,
    );
    assert_eq!(s.chain, Some(head(120)));
    let c = reachable(&s);
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "HeadRead"));
    assert_eq!(c.observed_generation, Some(1));
    assert_eq!(s.services["blockStore"].queue_depth, Some(7));
    assert_eq!(s.services["chain"].queue_depth, Some(0));
    // jsonrpc has no RPC queue: no depth.
    assert_eq!(s.services["jsonrpc"].queue_depth, None);
}

#[test]
fn a_failed_read_keeps_the_last_head_clears_depths_and_leaves_ready_alone() {
    let good = pass(None, Some(read(Ok(head(120)), &[("blockStore", 7)])), 100);
    let bad = pass(
        Some(&good),
        Some(read(Err(refused("connection refused")), &[])),
        200,
    );
    assert_eq!(bad.chain, Some(head(120)), "the last head read is kept");
    assert!(
        depths(&bad).values().all(Option::is_none),
        "{:?}",
        depths(&bad)
    );
    let c = reachable(&bad);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "BrokerUnavailable")
    );
    assert_eq!(
        c.message,
        "cannot connect to the cluster's broker at amqp://demo-rabbitmq.ns.svc:5672/"
    );
    assert_eq!(c.last_transition_time, at(200));
    assert_eq!(find(&bad, READY).unwrap().status, "True");
    assert_eq!(find(&bad, AVAILABLE).unwrap().status, "True");
}

#[test]
fn repeated_failures_with_varying_error_text_do_not_change_the_status() {
    let first = pass(
        None,
        Some(read(Err(refused("Connection refused (os error 111)")), &[])),
        100,
    );
    let second = pass(
        Some(&first),
        Some(read(Err(refused("timed out after 2s")), &[])),
        130,
    );
    assert_eq!(first, second);
    let slow = ReadFailure::ChainTimeout {
        after: Duration::from_secs(2),
    };
    let third = pass(Some(&second), Some(read(Err(slow.clone()), &[])), 160);
    let fourth = pass(Some(&third), Some(read(Err(slow), &[])), 190);
    assert_eq!(third, fourth);
    let c = reachable(&fourth);
    assert_eq!(c.reason, "ChainUnavailable");
    assert_eq!(
        c.message,
        "the chain service did not answer get_head_info within 2s"
    );
    // False -> False with another reason: lastTransitionTime stays.
    assert_eq!(c.last_transition_time, at(100));
    let error = ReadFailure::ChainError {
        detail: "state is locked".into(),
    };
    let fifth = pass(Some(&fourth), Some(read(Err(error), &[])), 220);
    assert_eq!(
        reachable(&fifth).message,
        "the chain service answered get_head_info with an error"
    );
}

#[test]
fn an_unchanged_head_and_depths_give_an_identical_status() {
    let first = pass(None, Some(read(Ok(head(5)), &[("blockStore", 0)])), 100);
    let second = pass(
        Some(&first),
        Some(read(Ok(head(5)), &[("blockStore", 0)])),
        130,
    );
    assert_eq!(first, second);
    let moved = pass(
        Some(&second),
        Some(read(Ok(head(6)), &[("blockStore", 0)])),
        160,
    );
    assert_eq!(moved.chain, Some(head(6)));
    assert_eq!(reachable(&moved).last_transition_time, at(100));
}

#[test]
fn stopped_clusters_and_unready_brokers_are_not_read_but_keep_the_head() {
    let good = pass(None, Some(read(Ok(head(42)), &[("blockStore", 3)])), 100);
    let stopped = compute_status(
        Some(&good),
        Some(2),
        &Outcome::Applied,
        Some(&observed(Some(BrokerObservation::Stopped))),
        true,
        at(200),
    );
    assert_eq!(stopped.chain, Some(head(42)));
    assert_eq!(reachable(&stopped).reason, "Stopped");
    assert_eq!(stopped.services["blockStore"].queue_depth, None);
    let starting = pass(Some(&good), Some(BrokerObservation::BrokerNotReady), 300);
    let c = reachable(&starting);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "BrokerNotReady")
    );
    assert_eq!(starting.chain, Some(head(42)));
}

#[test]
fn a_disabled_chain_is_said_so_while_depths_are_still_read() {
    let reading = BrokerObservation::Read(ClusterReading {
        head: None,
        queue_depths: [("blockStore".to_string(), 2)].into(),
        ..ClusterReading::default()
    });
    let s = pass(None, Some(reading), 100);
    assert_eq!(reachable(&s).reason, "ChainDisabled");
    assert_eq!(s.chain, None);
    assert_eq!(s.services["blockStore"].queue_depth, Some(2));
}

#[test]
fn not_reading_keeps_the_previous_condition_and_depths() {
    let good = pass(None, Some(read(Ok(head(9)), &[("blockStore", 4)])), 100);
    let unread = pass(Some(&good), None, 200);
    assert_eq!(unread.chain, good.chain);
    assert_eq!(reachable(&unread), reachable(&good));
    assert_eq!(unread.services["blockStore"].queue_depth, Some(4));
    // A cluster never read has no ChainReachable condition at all.
    assert!(find(&pass(None, None, 100), CHAIN_REACHABLE).is_none());
}

#[test]
fn an_invalid_spec_keeps_chain_reachable_as_it_was() {
    let good = pass(None, Some(read(Ok(head(9)), &[])), 100);
    let invalid = compute_status(
        Some(&good),
        Some(2),
        &Outcome::Invalid("spec.x: bad".into()),
        None,
        false,
        at(200),
    );
    let c = reachable(&invalid);
    assert_eq!(
        (c.status.as_str(), c.last_transition_time.clone()),
        ("True", at(100))
    );
    assert_eq!(c.observed_generation, Some(2));
    assert_eq!(invalid.chain, Some(head(9)));
}

/// A head of `height` whose block was made at `block_time` (seconds).
fn head_at(height: u64, block_time: i64) -> ChainStatus {
    ChainStatus {
        head_block_time: Some(at(block_time)),
        chain_id: Some("EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==".into()),
        ..head(height)
    }
}

fn status_of<'a>(status: &'a KoinosClusterStatus, type_: &str) -> (&'a str, &'a str) {
    let c = find(status, type_).unwrap_or_else(|| panic!("{type_} missing"));
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn lag_reads_coarsely() {
    assert_eq!(format_lag(0), "0s");
    assert_eq!(format_lag(59), "59s");
    assert_eq!(format_lag(61), "1m");
    assert_eq!(format_lag(3599), "59m");
    assert_eq!(format_lag(3 * 3600 + 12 * 60 + 5), "3h12m");
    assert_eq!(format_lag(4 * 86_400 + 3 * 3600 + 59), "4d3h");
}

#[test]
fn a_node_days_behind_is_progressing_not_synced_and_not_ready() {
    let now = 1_800_000_000;
    let days_behind = now - 3 * 86_400 - 2 * 3600;
    let s = pass(None, Some(read(Ok(head_at(1_000, days_behind)), &[])), now);
    let chain = s.chain.as_ref().unwrap();
    assert_eq!(chain.lag.as_deref(), Some("3d2h"));
    assert_eq!(chain.head_block_time, Some(at(days_behind)));
    assert_eq!(
        chain.chain_id.as_deref(),
        Some("EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==")
    );
    assert_eq!(status_of(&s, SYNCED), ("False", "CatchingUp"));
    assert_eq!(status_of(&s, PROGRESSING), ("True", "CatchingUp"));
    assert_eq!(status_of(&s, AVAILABLE), ("True", "ServicesAvailable"));
    assert_eq!(status_of(&s, READY), ("False", "CatchingUp"));
    let ready = find(&s, READY).unwrap();
    assert!(
        ready.message.contains("(height 1000) is 3d2h behind"),
        "{}",
        ready.message
    );
}

#[test]
fn a_node_within_a_minute_of_the_clock_is_synced_and_ready() {
    let now = 1_800_000_000;
    for behind in [0, 3, SYNC_THRESHOLD_SECONDS] {
        let s = pass(None, Some(read(Ok(head_at(9, now - behind)), &[])), now);
        assert_eq!(status_of(&s, SYNCED), ("True", "HeadCurrent"), "{behind}");
        assert_eq!(status_of(&s, PROGRESSING), ("False", "Synced"));
        assert_eq!(status_of(&s, READY), ("True", "ClusterReady"));
    }
    let s = pass(
        None,
        Some(read(Ok(head_at(9, now - SYNC_THRESHOLD_SECONDS - 1)), &[])),
        now,
    );
    assert_eq!(status_of(&s, SYNCED), ("False", "CatchingUp"));
    // A block stamped in the future (clock skew) is no lag.
    let s = pass(None, Some(read(Ok(head_at(9, now + 5)), &[])), now);
    assert_eq!(s.chain.unwrap().lag.as_deref(), Some("0s"));
}

#[test]
fn catching_up_then_synced_flips_ready_and_keeps_transition_times_otherwise() {
    let now = 1_800_000_000;
    let behind = pass(None, Some(read(Ok(head_at(10, now - 7200)), &[])), now);
    let still = pass(
        Some(&behind),
        Some(read(Ok(head_at(2_000, now + 30 - 3600)), &[])),
        now + 30,
    );
    assert_eq!(
        find(&still, PROGRESSING).unwrap().last_transition_time,
        at(now),
        "still catching up: no transition"
    );
    let synced = pass(
        Some(&still),
        Some(read(Ok(head_at(3_200, now + 60 - 2)), &[])),
        now + 60,
    );
    assert_eq!(status_of(&synced, READY), ("True", "ClusterReady"));
    assert_eq!(
        find(&synced, READY).unwrap().last_transition_time,
        at(now + 60)
    );
    assert_eq!(
        find(&synced, SYNCED).unwrap().last_transition_time,
        at(now + 60)
    );
}

#[test]
fn an_unreadable_chain_makes_sync_unknown_and_leaves_ready_to_the_pods() {
    let now = 1_800_000_000;
    let synced = pass(None, Some(read(Ok(head_at(9, now)), &[])), now);
    let failed = pass(
        Some(&synced),
        Some(read(Err(refused("down")), &[])),
        now + 30,
    );
    assert_eq!(status_of(&failed, SYNCED), ("Unknown", "BrokerUnavailable"));
    assert_eq!(
        status_of(&failed, PROGRESSING),
        ("Unknown", "BrokerUnavailable")
    );
    assert_eq!(status_of(&failed, READY), ("True", "ClusterReady"));
    // The last head read stays, lag as it was measured then.
    assert_eq!(failed.chain.as_ref().unwrap().lag.as_deref(), Some("0s"));
    // Not read at all (invalid spec, paused without a read): the conditions stand.
    let not_read = pass(Some(&synced), None, now + 60);
    assert_eq!(status_of(&not_read, SYNCED), ("True", "HeadCurrent"));
    // Stopped.
    let stopped = pass(Some(&synced), Some(BrokerObservation::Stopped), now + 90);
    assert_eq!(status_of(&stopped, SYNCED), ("Unknown", "Stopped"));
}
