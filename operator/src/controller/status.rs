//! Status: computed purely from the outcome of this pass and the observed children, then one
//! patch, skipped when nothing changed. `lastTransitionTime` moves only when a condition flips.
//! What the cluster's own broker reports (`status.chain`, queue depths) is merged by [`chain`].

pub mod chain;
pub mod conditions;
mod observe;
mod sources;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::apply::{MonitoringOutcome, RoutesOutcome};
use super::error::Error;
use crate::crd::status::{ChainStatus, KoinosClusterStatus, P2pStatus, ServiceStatus};

pub use self::chain::{BrokerObservation, CHAIN_REACHABLE, PROGRESSING, SYNCED};
use self::conditions::Facts;
pub use self::observe::{missing_inputs, missing_message, observe, p2p_load_balancer, p2p_status};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const AVAILABLE: &str = "Available";
pub const BROKER_READY: &str = "BrokerReady";
pub const RECONCILIATION_PAUSED: &str = "ReconciliationPaused";
pub const MONITORING: &str = "Monitoring";
pub const ROUTES: &str = "Routes";
pub const P2P_ANNOUNCED: &str = "P2pAnnounced";

/// How this pass ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Children are as desired.
    Applied,
    /// `clusterOperation.reconciliationPaused`: nothing written.
    Paused,
    /// The spec is invalid; the message names the field.
    Invalid(String),
    /// Applying failed; permanent failures need a change, others are retried.
    Failed { message: String, permanent: bool },
}

impl Outcome {
    /// The outcome of a pass that applied (`Some`) or, paused, did not (`None`).
    pub fn of<T>(applied: Option<&Result<T, Error>>) -> Self {
        match applied {
            None => Self::Paused,
            Some(Ok(_)) => Self::Applied,
            Some(Err(error)) => Self::Failed {
                message: error.to_string(),
                permanent: error.is_permanent(),
            },
        }
    }
}

/// Replicas of one service as seen on its workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedService {
    pub spec_name: String,
    pub desired: i32,
    pub ready: i32,
    pub image: String,
}

/// An object of the user's that the cluster's pods need, missing (or without its key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingInput {
    /// `MissingGenesis`, `MissingProducerKey`, `MissingBrokerSecret`; for `storage.dataSource`
    /// `MissingVolumeSnapshot`, `VolumeSnapshotNotReady`, `VolumeSnapshotApiMissing`,
    /// `MissingSourceVolume`.
    pub reason: &'static str,
    /// Names the object, the key and the spec field that refers to it.
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// `None` for an external broker (not probed).
    pub broker_ready: Option<bool>,
    /// The managed broker's StatefulSet is replacing its pods (a new template or replica
    /// count): its desired replicas. `None` when no update is in progress.
    pub broker_rolling_out: Option<i32>,
    pub services: Vec<ObservedService>,
    /// What the cluster's broker reported; `None`: not read (the previous chain status,
    /// queue depths and `ChainReachable` are kept).
    pub broker: Option<BrokerObservation>,
    /// The user's objects the pods need that do not exist (see [`missing_inputs`]).
    pub missing: Vec<MissingInput>,
    /// p2p's identity once its seed Secret exists (our p2p image only).
    pub p2p: Option<P2pStatus>,
    /// Where p2p's external address comes from (`None`: it announces none).
    pub p2p_announce: Option<crate::model::announce::P2pAnnounce>,
    /// What became of the PodMonitor this pass (`None`: not applied this pass, e.g. paused or
    /// failed before it; the last `Monitoring` condition stands).
    pub monitoring: Option<MonitoringOutcome>,
    /// What became of the Gateway API routes this pass (`None`: not applied this pass; the
    /// last `Routes` condition stands).
    pub routes: Option<RoutesOutcome>,
    /// What became of the managed broker's users this pass (`BrokerReady` names the users
    /// that could not be provisioned).
    pub broker_users: Option<crate::broker::users::UsersOutcome>,
}

/// The new status. `observed` is `None` when the spec is invalid (the old per-service status
/// is kept). `now` stamps only conditions whose status flipped.
pub fn compute_status(
    old: Option<&KoinosClusterStatus>,
    generation: Option<i64>,
    outcome: &Outcome,
    observed: Option<&Observed>,
    stopped: bool,
    now: Time,
) -> KoinosClusterStatus {
    let mut status = old.cloned().unwrap_or_default();
    status.observed_generation = generation;
    if let Some(observed) = observed {
        merge_observed(&mut status, old, observed, &now);
    }
    let old_conditions = old.map(|o| o.conditions.as_slice()).unwrap_or_default();
    let broker = observed.and_then(|o| o.broker.as_ref());
    let sync = chain::sync(broker, status.chain.as_ref(), &now);
    let sync_conditions = conditions::sync_conditions(sync.as_ref(), old_conditions);
    let synced = sync_conditions.iter().find(|c| c.type_ == SYNCED);
    let facts = Facts::new(&status, outcome, observed, stopped, synced);
    let mut conditions = vec![
        conditions::ready(&facts),
        conditions::reconciling(&facts),
        conditions::stalled(&facts),
        conditions::available(&facts),
        conditions::reconciliation_paused(&facts),
        conditions::broker_ready(&facts),
    ];
    conditions.extend(conditions::chain_reachable(broker, old_conditions));
    conditions.extend(conditions::monitoring(
        observed.and_then(|o| o.monitoring.as_ref()),
        old_conditions,
    ));
    conditions.extend(conditions::routes(
        observed.and_then(|o| o.routes.as_ref()),
        old_conditions,
    ));
    conditions.extend(conditions::p2p_announced(observed, old_conditions));
    conditions.extend(sync_conditions.iter().cloned());
    conditions::stamp(
        &mut conditions,
        old_conditions,
        generation,
        &now,
        observed.is_some(),
    );
    status.conditions = conditions;
    status
}

/// `status.services`, `servicesReady` and `chain` from what this pass observed.
fn merge_observed(
    status: &mut KoinosClusterStatus,
    old: Option<&KoinosClusterStatus>,
    observed: &Observed,
    now: &Time,
) {
    let depths = observed
        .broker
        .as_ref()
        .map(BrokerObservation::queue_depths);
    status.services = observed
        .services
        .iter()
        .map(|s| {
            let queue_depth = match &depths {
                Some(depths) => depths
                    .get(&s.spec_name)
                    .map(|d| i64::try_from(*d).unwrap_or(i64::MAX)),
                None => old
                    .and_then(|o| o.services.get(&s.spec_name))
                    .and_then(|o| o.queue_depth),
            };
            let entry = ServiceStatus {
                desired_replicas: s.desired,
                ready_replicas: s.ready,
                image: s.image.clone(),
                queue_depth,
            };
            (s.spec_name.clone(), entry)
        })
        .collect::<BTreeMap<_, _>>();
    let ready = observed
        .services
        .iter()
        .filter(|s| s.desired > 0 && s.ready >= s.desired)
        .count();
    status.services_ready = Some(format!("{ready}/{}", observed.services.len()));
    status.p2p.clone_from(&observed.p2p);
    if let Some(head) = observed.broker.as_ref().and_then(BrokerObservation::head) {
        let lag = chain::lag_seconds(head, now).map(chain::format_lag);
        status.chain = Some(ChainStatus {
            lag,
            ..head.clone()
        });
    }
}

/// The condition of `type_`, if present.
pub fn find<'a>(status: &'a KoinosClusterStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

pub fn is_true(status: Option<&KoinosClusterStatus>, type_: &str) -> bool {
    status
        .and_then(|s| find(s, type_))
        .is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "status/reconcile_tests.rs"]
mod reconcile_with_rabbitmq;
