//! Event policy: which Kubernetes Events a reconcile pass publishes. Deciding is pure
//! ([`on_status_change`], [`on_applied`]); [`publish`] writes them, in order, never failing the
//! pass.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};
use tracing::warn;

use super::apply::Applied;
use super::status::{self, BrokerObservation, Observed, Outcome};
use crate::crd::{KoinosCluster, KoinosClusterStatus};

/// One Event to publish (action `Reconcile`, regarding the cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub type_: EventType,
    pub reason: String,
    pub note: String,
}

impl Notice {
    fn normal(reason: &str, note: impl Into<String>) -> Self {
        Self {
            type_: EventType::Normal,
            reason: reason.into(),
            note: note.into(),
        }
    }
    fn warning(reason: &str, note: impl Into<String>) -> Self {
        Self {
            type_: EventType::Warning,
            reason: reason.into(),
            note: note.into(),
        }
    }
}

/// The Events of a status that changed from `old` to `new`: condition transitions, then the
/// chain's reachability.
pub fn on_status_change(
    old: Option<&KoinosClusterStatus>,
    new: &KoinosClusterStatus,
    outcome: &Outcome,
    observed: Option<&Observed>,
) -> Vec<Notice> {
    let mut notices = transitions(old, new, outcome);
    notices.extend(chain_transition(old, new, observed));
    notices.extend(optional_transition(old, new, status::MONITORING));
    notices.extend(optional_transition(old, new, status::ROUTES));
    notices
}

/// A Warning when an optional kind's condition (`Monitoring`, `Routes`) turns False or changes
/// its reason (the CRDs missing, the object refused), a Normal Event when it turns True.
fn optional_transition(
    old: Option<&KoinosClusterStatus>,
    new: &KoinosClusterStatus,
    type_: &str,
) -> Option<Notice> {
    let state = |status: Option<&KoinosClusterStatus>| {
        status
            .and_then(|s| status::find(s, type_))
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    };
    let (before, (now_status, reason, message)) = (state(old), state(Some(new))?);
    if before.as_ref().map(|(s, r, _)| (s, r)) == Some((&now_status, &reason)) {
        return None;
    }
    Some(if now_status == "True" {
        Notice::normal(&reason, message)
    } else {
        Notice::warning(&reason, message)
    })
}

/// Stalled, Ready/NotReady, paused and resumed.
fn transitions(
    old: Option<&KoinosClusterStatus>,
    new: &KoinosClusterStatus,
    outcome: &Outcome,
) -> Vec<Notice> {
    let flipped_on = |type_| status::is_true(Some(new), type_) && !status::is_true(old, type_);
    let flipped_off = |type_| !status::is_true(Some(new), type_) && status::is_true(old, type_);
    let mut notices = Vec::new();
    if flipped_on(status::STALLED) {
        let (reason, message) = status::find(new, status::STALLED)
            .map(|c| (c.reason.clone(), c.message.clone()))
            .unwrap_or_default();
        // The condition's reason (InvalidSpec, ApplyRejected, MissingGenesis, ...).
        let reason = match outcome {
            _ if !reason.is_empty() => reason,
            Outcome::Invalid(_) => "InvalidSpec".to_string(),
            _ => "ApplyRejected".to_string(),
        };
        notices.push(Notice::warning(&reason, message));
    }
    if flipped_on(status::READY) {
        notices.push(Notice::normal("Ready", "every service is ready"));
    }
    if flipped_off(status::READY) && !flipped_on(status::STALLED) {
        let message = status::find(new, status::READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        notices.push(Notice::warning("NotReady", message));
    }
    if flipped_on(status::SYNCED) {
        notices.push(Notice::normal(
            status::SYNCED,
            "the chain's head is within a minute of wall-clock time",
        ));
    }
    // Behind (not merely unknown): say how far.
    let synced = status::find(new, status::SYNCED);
    if flipped_off(status::SYNCED) && synced.is_some_and(|c| c.status == "False") {
        let message = synced.map(|c| c.message.clone()).unwrap_or_default();
        notices.push(Notice::warning("CatchingUp", message));
    }
    if flipped_on(status::RECONCILIATION_PAUSED) {
        notices.push(Notice::normal(
            "ReconciliationPaused",
            "no child will be written",
        ));
    }
    if flipped_off(status::RECONCILIATION_PAUSED) {
        notices.push(Notice::normal(
            "ReconciliationResumed",
            "reconciling children again",
        ));
    }
    notices
}

/// An Event when `ChainReachable` turns True, or turns False for a new reason (the Event
/// carries the varying detail the stable condition message leaves out).
fn chain_transition(
    old: Option<&KoinosClusterStatus>,
    new: &KoinosClusterStatus,
    observed: Option<&Observed>,
) -> Option<Notice> {
    let state = |status: Option<&KoinosClusterStatus>| {
        status
            .and_then(|s| status::find(s, status::CHAIN_REACHABLE))
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    let (before, after) = (state(old), state(Some(new)));
    let (now_status, now_reason) = after.clone()?;
    // Stopped, a broker still starting and a disabled chain are by design, not news.
    let expected = ["Stopped", "BrokerNotReady", "ChainDisabled"];
    if before == after || expected.contains(&now_reason.as_str()) {
        return None;
    }
    let broker = observed.and_then(|o| o.broker.as_ref());
    if now_status == "True" {
        let note = match broker.and_then(BrokerObservation::head) {
            Some(head) => format!("chain head at height {}", head.head_height),
            None => "the chain service answers".into(),
        };
        Some(Notice::normal(status::CHAIN_REACHABLE, note))
    } else {
        let note = match broker.and_then(BrokerObservation::failure) {
            Some(failure) => failure.detail(),
            None => status::find(new, status::CHAIN_REACHABLE)
                .map(|c| c.message.clone())
                .unwrap_or_default(),
        };
        Some(Notice::warning(&now_reason, note))
    }
}

/// The Events of an apply: volumes grown, orphans deleted.
pub fn on_applied(applied: &Applied) -> Vec<Notice> {
    let mut notices = Vec::new();
    if !applied.grown.is_empty() {
        let note = format!("grew volumes of {}", applied.grown.join(", "));
        notices.push(Notice::normal("VolumesGrown", note));
    }
    if !applied.deleted.is_empty() {
        let note = format!("deleted {}", applied.deleted.join(", "));
        notices.push(Notice::normal("DeletedOrphans", note));
    }
    notices
}

/// Publish `notices` in order; a failed publish is logged, not returned.
pub async fn publish(recorder: &Recorder, cluster: &KoinosCluster, notices: Vec<Notice>) {
    for Notice {
        type_,
        reason,
        note,
    } in notices
    {
        let event = Event {
            type_,
            reason: reason.clone(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(error) = recorder.publish(&event, &cluster.object_ref(&())).await {
            warn!(%error, reason, "publishing an Event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::status::{READY, STALLED};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn with(conditions: &[(&str, &str, &str)]) -> KoinosClusterStatus {
        KoinosClusterStatus {
            services_ready: Some("3/4".into()),
            conditions: conditions
                .iter()
                .map(|(type_, status, reason)| Condition {
                    type_: (*type_).into(),
                    status: (*status).into(),
                    reason: (*reason).into(),
                    message: "m".into(),
                    observed_generation: None,
                    last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn reasons(notices: &[Notice]) -> Vec<&str> {
        notices.iter().map(|n| n.reason.as_str()).collect()
    }

    #[test]
    fn stalling_names_its_cause_and_is_not_also_not_ready() {
        let old = with(&[(READY, "True", "ClusterReady")]);
        let new = with(&[
            (READY, "False", "InvalidSpec"),
            (STALLED, "True", "InvalidSpec"),
        ]);
        let invalid = Outcome::Invalid("x".into());
        assert_eq!(
            reasons(&on_status_change(Some(&old), &new, &invalid, None)),
            ["InvalidSpec"]
        );
        let rejected = Outcome::Failed {
            message: "x".into(),
            permanent: true,
        };
        let new = with(&[
            (READY, "False", "ApplyRejected"),
            (STALLED, "True", "ApplyRejected"),
        ]);
        assert_eq!(
            reasons(&on_status_change(Some(&old), &new, &rejected, None)),
            ["ApplyRejected"]
        );
        let missing = with(&[
            (READY, "False", "MissingGenesis"),
            (STALLED, "True", "MissingGenesis"),
        ]);
        assert_eq!(
            reasons(&on_status_change(
                Some(&old),
                &missing,
                &Outcome::Applied,
                None
            )),
            ["MissingGenesis"]
        );
    }

    #[test]
    fn ready_flips_both_ways_and_expected_chain_reasons_are_quiet() {
        let not_ready = with(&[
            (READY, "False", "ServicesNotReady"),
            (status::CHAIN_REACHABLE, "False", "Stopped"),
        ]);
        let ready = with(&[(READY, "True", "ClusterReady")]);
        let notices = on_status_change(Some(&not_ready), &ready, &Outcome::Applied, None);
        assert_eq!(notices, [Notice::normal("Ready", "every service is ready")]);
        let notices = on_status_change(Some(&ready), &not_ready, &Outcome::Applied, None);
        assert_eq!(
            notices,
            [Notice::warning("NotReady", "m")],
            "Ready's message"
        );
    }

    #[test]
    fn synced_and_falling_behind_are_events_unknown_is_not() {
        let synced = with(&[(status::SYNCED, "True", "HeadCurrent")]);
        let behind = with(&[(status::SYNCED, "False", "CatchingUp")]);
        let unknown = with(&[(status::SYNCED, "Unknown", "BrokerUnavailable")]);
        let changes = |old: &KoinosClusterStatus, new: &KoinosClusterStatus| {
            reasons(&on_status_change(Some(old), new, &Outcome::Applied, None))
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(changes(&behind, &synced), ["Synced"]);
        assert_eq!(changes(&synced, &behind), ["CatchingUp"]);
        assert_eq!(changes(&synced, &unknown), Vec::<String>::new());
    }

    #[test]
    fn monitoring_warns_when_it_cannot_be_set_up_and_says_when_it_is() {
        let none = with(&[]);
        let missing = with(&[(status::MONITORING, "False", "PrometheusOperatorMissing")]);
        let applied = with(&[(status::MONITORING, "True", "PodMonitorApplied")]);
        let changes = |old: &KoinosClusterStatus, new: &KoinosClusterStatus| {
            on_status_change(Some(old), new, &Outcome::Applied, None)
        };
        let warned = changes(&none, &missing);
        assert_eq!(warned, [Notice::warning("PrometheusOperatorMissing", "m")]);
        assert!(changes(&missing, &missing).is_empty(), "once per change");
        assert_eq!(reasons(&changes(&missing, &applied)), ["PodMonitorApplied"]);
        assert_eq!(changes(&missing, &applied)[0].type_, EventType::Normal);
        assert!(changes(&applied, &none).is_empty(), "turned off: no news");
    }

    #[test]
    fn routes_warn_when_the_gateway_api_is_missing_and_say_when_they_are_applied() {
        let none = with(&[]);
        let missing = with(&[(status::ROUTES, "False", "GatewayApiMissing")]);
        let applied = with(&[(status::ROUTES, "True", "RoutesApplied")]);
        let changes = |old: &KoinosClusterStatus, new: &KoinosClusterStatus| {
            on_status_change(Some(old), new, &Outcome::Applied, None)
        };
        assert_eq!(
            changes(&none, &missing),
            [Notice::warning("GatewayApiMissing", "m")]
        );
        assert!(changes(&missing, &missing).is_empty(), "once per change");
        assert_eq!(reasons(&changes(&missing, &applied)), ["RoutesApplied"]);
        assert!(changes(&applied, &none).is_empty(), "unset: no news");
    }

    #[test]
    fn an_apply_without_growth_or_deletion_is_silent() {
        assert!(on_applied(&Applied::default()).is_empty());
    }
}
