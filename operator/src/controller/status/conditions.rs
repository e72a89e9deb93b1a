//! One function per condition, each from the [`Facts`] of this pass (pure).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::chain::{PROGRESSING, SYNC_THRESHOLD_SECONDS, SYNCED, Sync};
use super::{
    AVAILABLE, BROKER_READY, BrokerObservation, CHAIN_REACHABLE, MONITORING, MissingInput,
    MonitoringOutcome, Observed, Outcome, P2P_ANNOUNCED, READY, RECONCILIATION_PAUSED, RECONCILING,
    ROUTES, RoutesOutcome, STALLED,
};
use crate::broker::users::UsersOutcome;
use crate::crd::status::KoinosClusterStatus;
use crate::model::announce::P2pAnnounce;

/// What the conditions are computed from: the outcome of the pass and the status with this
/// pass's observations merged in.
pub struct Facts<'a> {
    pub outcome: &'a Outcome,
    pub stopped: bool,
    /// Children were observed (not with an invalid spec).
    pub observed: bool,
    /// `status.servicesReady` (`n/m`).
    pub services_ready: Option<&'a str>,
    /// Every service has its desired replicas ready.
    pub all_ready: bool,
    /// There are services and each has a ready replica.
    pub all_up: bool,
    /// `None` for an external broker (not probed).
    pub broker_ready: Option<bool>,
    /// The managed broker's desired replicas while its pods are being replaced.
    pub broker_rolling_out: Option<i32>,
    /// The reason and message when some of the managed broker's users could not be made.
    pub users_failure: Option<(&'static str, String)>,
    /// The first missing object of the user's that pods need (genesis, keys, broker URL).
    pub missing: Option<&'a MissingInput>,
    /// The `Synced` condition's status: `None` when unknown.
    pub synced: Option<bool>,
    /// The `Synced` condition's message (why Ready waits for the chain).
    pub synced_message: Option<&'a str>,
}

impl<'a> Facts<'a> {
    pub fn new(
        status: &'a KoinosClusterStatus,
        outcome: &'a Outcome,
        observed: Option<&'a Observed>,
        stopped: bool,
        synced: Option<&'a Condition>,
    ) -> Self {
        let services = status.services.values().collect::<Vec<_>>();
        Self {
            outcome,
            stopped,
            observed: observed.is_some(),
            services_ready: status.services_ready.as_deref(),
            all_ready: services
                .iter()
                .all(|s| s.ready_replicas >= s.desired_replicas),
            all_up: !services.is_empty() && services.iter().all(|s| s.ready_replicas > 0),
            broker_ready: observed.and_then(|o| o.broker_ready),
            broker_rolling_out: observed.and_then(|o| o.broker_rolling_out),
            users_failure: users_failure(
                observed.and_then(|o| o.broker_users.as_ref()),
                &status.conditions,
            ),
            missing: observed.and_then(|o| o.missing.first()),
            synced: synced.and_then(|c| match c.status.as_str() {
                "True" => Some(true),
                "False" => Some(false),
                _ => None,
            }),
            synced_message: synced.map(|c| c.message.as_str()),
        }
    }

    /// Stalled: the reason and message, when the spec or the API server refused the pass, or
    /// an object of the user's that the pods need does not exist (they would hang, waiting).
    fn stalled(&self) -> Option<(&'static str, &'a str)> {
        match self.outcome {
            Outcome::Invalid(message) => Some(("InvalidSpec", message)),
            Outcome::Failed {
                message,
                permanent: true,
            } => Some(("ApplyRejected", message)),
            _ => self.missing.map(|m| (m.reason, m.message.as_str())),
        }
    }
    fn paused(&self) -> bool {
        *self.outcome == Outcome::Paused
    }
    /// A failure that is retried.
    fn transient(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Failed {
                permanent: false,
                ..
            }
        )
    }
    fn available(&self) -> bool {
        !self.stopped && self.all_up && self.broker_ready != Some(false) && self.observed
    }
    fn reconciling(&self) -> bool {
        self.stalled().is_none() && !self.paused() && (self.transient() || !self.all_ready)
    }
    /// Pods ready, nothing failing, and the chain not known to be behind (a node days behind
    /// serves stale data; unknown when the head cannot be read: ChainReachable says why).
    fn ready(&self) -> bool {
        self.available()
            && self.all_ready
            && self.stalled().is_none()
            && !self.transient()
            && self.synced != Some(false)
    }
}

pub fn condition(type_: &str, status: bool, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        observed_generation: None,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    }
}

pub fn ready(f: &Facts) -> Condition {
    let ready = f.ready();
    let pods_ready = f.available() && f.all_ready && !f.transient();
    let reason = match f.stalled() {
        _ if ready => "ClusterReady",
        Some((reason, _)) => reason,
        None if f.stopped => "Stopped",
        None if pods_ready => "CatchingUp",
        None => "ServicesNotReady",
    };
    let message = match (ready, f.services_ready) {
        (true, _) => "every service is ready".into(),
        (false, _) if f.stalled().is_none() && pods_ready => format!(
            "every service is ready; the chain is catching up: {}",
            f.synced_message.unwrap_or_default()
        ),
        (false, Some(counts)) => format!("{counts} services ready"),
        (false, None) => "not reconciled yet".into(),
    };
    condition(READY, ready, reason, message)
}

pub fn reconciling(f: &Facts) -> Condition {
    let reconciling = f.reconciling();
    let reason = if f.transient() {
        "RetryingAfterError"
    } else if reconciling {
        "ScalingOrRolling"
    } else {
        "Idle"
    };
    let message = match f.outcome {
        Outcome::Failed {
            message,
            permanent: false,
        } => message.clone(),
        _ if reconciling => "waiting for workloads to become ready".into(),
        _ => String::new(),
    };
    condition(RECONCILING, reconciling, reason, message)
}

pub fn stalled(f: &Facts) -> Condition {
    match f.stalled() {
        Some((reason, message)) => condition(STALLED, true, reason, message.to_string()),
        None => condition(STALLED, false, "Progressing", String::new()),
    }
}

pub fn available(f: &Facts) -> Condition {
    let available = f.available();
    let (reason, message) = if available {
        (
            "ServicesAvailable",
            "every service has a ready replica".into(),
        )
    } else if f.stopped {
        ("Stopped", String::new())
    } else {
        ("ServicesUnavailable", String::new())
    };
    condition(AVAILABLE, available, reason, message)
}

pub fn reconciliation_paused(f: &Facts) -> Condition {
    if f.paused() {
        condition(
            RECONCILIATION_PAUSED,
            true,
            "PausedBySpec",
            "spec.clusterOperation.reconciliationPaused is true: no child is written".into(),
        )
    } else {
        condition(RECONCILIATION_PAUSED, false, "Active", String::new())
    }
}

/// What a broker rollout means for its clients (stable: no counts that change as it goes).
fn rolling_out_message(replicas: i32) -> String {
    if replicas > 1 {
        "the broker's pods are being replaced one at a time: each node drains (its clients \
         reconnect to the others) once its RPC queues have a synchronised mirror"
            .into()
    } else {
        "the broker's only pod is being replaced: its clients are disconnected until it is \
         Ready again, then reconnect and re-send; durable queues and persistent messages \
         survive on its volume"
            .into()
    }
}

/// This pass's users outcome; when it did not try (no ready node, caches not synced yet after
/// a restart), the last known failure stands, so a pass that learns nothing new writes nothing.
fn users_failure(
    outcome: Option<&UsersOutcome>,
    old_conditions: &[Condition],
) -> Option<(&'static str, String)> {
    const REASON: &str = "BrokerUsersNotProvisioned";
    match outcome {
        Some(outcome @ UsersOutcome::Failed { .. }) => outcome.failure(),
        Some(UsersOutcome::Provisioned { .. }) => None,
        None | Some(UsersOutcome::BrokerNotReady) => old_conditions
            .iter()
            .find(|c| c.type_ == BROKER_READY && c.reason == REASON)
            .map(|c| (REASON, c.message.clone())),
    }
}

pub fn broker_ready(f: &Facts) -> Condition {
    if let (Some(_), Some(replicas)) = (f.broker_ready, f.broker_rolling_out) {
        return condition(
            BROKER_READY,
            false,
            "BrokerRollingOut",
            rolling_out_message(replicas),
        );
    }
    match f.broker_ready {
        // The node runs, but some workloads' users are missing: they cannot connect.
        Some(true) if f.users_failure.is_some() => {
            let (reason, message) = f.users_failure.clone().unwrap_or_default();
            condition(BROKER_READY, false, reason, message)
        }
        Some(true) => condition(
            BROKER_READY,
            true,
            "BrokerReady",
            "RabbitMQ has a ready node".into(),
        ),
        Some(false) => condition(
            BROKER_READY,
            false,
            "BrokerNotReady",
            "no RabbitMQ node is ready".into(),
        ),
        None => Condition {
            status: "Unknown".into(),
            ..condition(
                BROKER_READY,
                false,
                "ExternalBroker",
                "external broker: not probed by the operator".into(),
            )
        },
    }
}

/// From this pass's broker read; not read, the last known reachability stands.
pub fn chain_reachable(
    broker: Option<&BrokerObservation>,
    old_conditions: &[Condition],
) -> Option<Condition> {
    match broker {
        Some(broker) => {
            let (reachable, reason, message) = broker.condition();
            Some(condition(CHAIN_REACHABLE, reachable, reason, message))
        }
        None => old_conditions
            .iter()
            .find(|c| c.type_ == CHAIN_REACHABLE)
            .cloned(),
    }
}

/// `Monitoring`, present while `spec.monitoring.podMonitor` is enabled: True once the
/// PodMonitor is applied, False (never Stalled: the cluster runs unmonitored) while the
/// Prometheus Operator's CRDs are missing or the PodMonitor cannot be written. Not applied this
/// pass (`None`: paused, or the pass failed before it), the last one stands.
pub fn monitoring(
    outcome: Option<&MonitoringOutcome>,
    old_conditions: &[Condition],
) -> Option<Condition> {
    let Some(outcome) = outcome else {
        return old_conditions
            .iter()
            .find(|c| c.type_ == MONITORING)
            .cloned();
    };
    Some(match outcome {
        MonitoringOutcome::Disabled => return None,
        MonitoringOutcome::Applied { name } => condition(
            MONITORING,
            true,
            "PodMonitorApplied",
            format!(
                "PodMonitor {name} scrapes every service's metrics port and the managed broker's prometheus port"
            ),
        ),
        MonitoringOutcome::CrdMissing => condition(
            MONITORING,
            false,
            "PrometheusOperatorMissing",
            "spec.monitoring.podMonitor is enabled but the API server serves no monitoring.coreos.com/v1 PodMonitor: install the Prometheus Operator's CRDs (checked again every pass; the cluster runs unmonitored meanwhile)".into(),
        ),
        MonitoringOutcome::Failed { message } => {
            condition(MONITORING, false, "PodMonitorFailed", message.clone())
        }
    })
}

/// `Routes`, present while a service has a `route`: True once every route is applied, False
/// (never Stalled: the services still serve inside Kubernetes) while the Gateway API's CRDs are
/// missing or a route cannot be written. Not applied this pass (`None`), the last one stands.
/// Whether a Gateway accepted the route is the route's own status (`status.parents`).
pub fn routes(outcome: Option<&RoutesOutcome>, old_conditions: &[Condition]) -> Option<Condition> {
    let Some(outcome) = outcome else {
        return old_conditions.iter().find(|c| c.type_ == ROUTES).cloned();
    };
    Some(match outcome {
        RoutesOutcome::Disabled => return None,
        RoutesOutcome::Applied { routes } => condition(
            ROUTES,
            true,
            "RoutesApplied",
            format!(
                "{} attach the client ports to their Gateways",
                routes.join(", ")
            ),
        ),
        RoutesOutcome::CrdMissing { kinds, .. } => condition(
            ROUTES,
            false,
            "GatewayApiMissing",
            format!(
                "spec.services.<svc>.route is set but the API server serves no gateway.networking.k8s.io/v1 {}: install the Gateway API's standard CRDs (checked again every pass; the services are not exposed through a Gateway meanwhile)",
                kinds.join(", ")
            ),
        ),
        RoutesOutcome::Failed { message } => {
            condition(ROUTES, false, "RoutesFailed", message.clone())
        }
    })
}

/// `P2pAnnounced` when p2p announces an external address: True naming it (from `announce` or
/// from its LoadBalancer), False `WaitingForLoadBalancer` until the cloud assigns one. Neither
/// Ready nor Stalled depends on it: p2p serves in-cluster peers and dials out meanwhile.
/// Absent when p2p announces nothing; not observed (invalid spec), the last one stands.
pub fn p2p_announced(
    observed: Option<&Observed>,
    old_conditions: &[Condition],
) -> Option<Condition> {
    let Some(observed) = observed else {
        return old_conditions
            .iter()
            .find(|c| c.type_ == P2P_ANNOUNCED)
            .cloned();
    };
    Some(match observed.p2p_announce.as_ref()? {
        P2pAnnounce::Configured(address) => condition(
            P2P_ANNOUNCED,
            true,
            "Configured",
            format!("p2p announces {address} (spec.services.p2p.announce)"),
        ),
        P2pAnnounce::LoadBalancer(address) => condition(
            P2P_ANNOUNCED,
            true,
            "LoadBalancerAddress",
            format!("p2p announces {address}, the address of its Service of type LoadBalancer"),
        ),
        P2pAnnounce::WaitingForLoadBalancer => condition(
            P2P_ANNOUNCED,
            false,
            "WaitingForLoadBalancer",
            "p2p's Service of type LoadBalancer has no address yet (status.loadBalancer.ingress): p2p announces it once the cloud assigns one (or set spec.services.p2p.announce)".into(),
        ),
    })
}

/// `Synced` and `Progressing` from this pass's [`Sync`]; not read this pass (`None`), the last
/// ones stand.
pub fn sync_conditions(sync: Option<&Sync>, old_conditions: &[Condition]) -> Vec<Condition> {
    let old = |type_: &str| old_conditions.iter().find(|c| c.type_ == type_).cloned();
    let Some(sync) = sync else {
        return [old(SYNCED), old(PROGRESSING)]
            .into_iter()
            .flatten()
            .collect();
    };
    let unknown = |c: Condition| Condition {
        status: "Unknown".into(),
        ..c
    };
    match sync {
        Sync::Current => vec![
            condition(
                SYNCED,
                true,
                "HeadCurrent",
                format!("the head block is within {SYNC_THRESHOLD_SECONDS}s of wall-clock time"),
            ),
            condition(PROGRESSING, false, "Synced", "the chain is synced".into()),
        ],
        Sync::Behind { height, lag } => {
            let message =
                format!("the head block (height {height}) is {lag} behind wall-clock time");
            vec![
                condition(SYNCED, false, "CatchingUp", message.clone()),
                condition(PROGRESSING, true, "CatchingUp", message),
            ]
        }
        Sync::Unknown(reason, message) => vec![
            unknown(condition(SYNCED, false, reason, message.clone())),
            unknown(condition(PROGRESSING, false, reason, message.clone())),
        ],
    }
}

/// `observedGeneration` on every condition; `lastTransitionTime` kept unless the status
/// flipped. With an invalid spec (`observed` false) nothing was observed: the children still
/// run as before, so BrokerReady and Available keep their last known value.
pub fn stamp(
    conditions: &mut [Condition],
    old_conditions: &[Condition],
    generation: Option<i64>,
    now: &Time,
    observed: bool,
) {
    for c in conditions {
        c.observed_generation = generation;
        c.last_transition_time = match old_conditions.iter().find(|o| o.type_ == c.type_) {
            Some(previous) if previous.status == c.status => previous.last_transition_time.clone(),
            _ => now.clone(),
        };
        if !observed
            && (c.type_ == BROKER_READY || c.type_ == AVAILABLE)
            && let Some(previous) = old_conditions.iter().find(|o| o.type_ == c.type_)
        {
            *c = Condition {
                observed_generation: generation,
                ..previous.clone()
            };
        }
    }
}
