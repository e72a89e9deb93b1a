//! Status: computed purely from the outcome of this pass and the observed children, then one
//! patch, skipped when nothing changed. `lastTransitionTime` moves only when a condition flips.
//! What the cluster's own broker reports (`status.chain`, queue depths) is merged by [`chain`].

pub mod chain;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{Api, Client};

use super::build::rabbitmq;
use super::error::Error;
use crate::crd::status::{KoinosClusterStatus, ServiceStatus};
use crate::model::naming::child_name;
use crate::model::{Amqp, ValidatedCluster};

pub use self::chain::{BrokerObservation, CHAIN_REACHABLE};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const AVAILABLE: &str = "Available";
pub const BROKER_READY: &str = "BrokerReady";
pub const RECONCILIATION_PAUSED: &str = "ReconciliationPaused";

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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// `None` for an external broker (not probed).
    pub broker_ready: Option<bool>,
    pub services: Vec<ObservedService>,
    /// What the cluster's broker reported; `None`: not read (the previous chain status,
    /// queue depths and `ChainReachable` are kept).
    pub broker: Option<BrokerObservation>,
}

/// Read the workloads' replica counts.
pub async fn observe(client: &Client, vc: &ValidatedCluster) -> Result<Observed, Error> {
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &vc.namespace);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &vc.namespace);
    let read_err = |kind: &'static str, name: &str| {
        let name = name.to_string();
        move |source| Error::ReadStatus { kind, name, source }
    };
    let mut observed = Observed::default();
    if let Amqp::Managed(_) = &vc.amqp {
        let name = child_name(vc, rabbitmq::COMPONENT);
        let sts = sets
            .get_opt(&name)
            .await
            .map_err(read_err("StatefulSet", &name))?;
        let ready = sts
            .and_then(|s| s.status)
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        observed.broker_ready = Some(ready > 0);
    }
    for svc in &vc.services {
        let name = child_name(vc, svc.profile.component);
        let (desired, ready) = if svc.profile.class.is_stateful_set() {
            let sts = sets
                .get_opt(&name)
                .await
                .map_err(read_err("StatefulSet", &name))?;
            let desired = sts
                .as_ref()
                .and_then(|s| s.spec.as_ref())
                .and_then(|s| s.replicas);
            let ready = sts.and_then(|s| s.status).and_then(|s| s.ready_replicas);
            (desired, ready)
        } else {
            let deployment = deployments
                .get_opt(&name)
                .await
                .map_err(read_err("Deployment", &name))?;
            let desired = deployment
                .as_ref()
                .and_then(|d| d.spec.as_ref())
                .and_then(|s| s.replicas);
            let ready = deployment
                .and_then(|d| d.status)
                .and_then(|s| s.ready_replicas);
            (desired, ready)
        };
        observed.services.push(ObservedService {
            spec_name: svc.profile.spec_name.into(),
            desired: desired.unwrap_or(svc.replicas),
            ready: ready.unwrap_or(0),
            image: svc.image.clone(),
        });
    }
    Ok(observed)
}

fn condition(type_: &str, status: bool, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        observed_generation: None,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    }
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
        if let Some(head) = observed.broker.as_ref().and_then(BrokerObservation::head) {
            status.chain = Some(head.clone());
        }
    }

    let (stalled, stalled_reason, stalled_message) = match outcome {
        Outcome::Invalid(message) => (true, "InvalidSpec", message.clone()),
        Outcome::Failed {
            message,
            permanent: true,
        } => (true, "ApplyRejected", message.clone()),
        _ => (false, "Progressing", String::new()),
    };
    let paused = *outcome == Outcome::Paused;
    let services = status.services.values().collect::<Vec<_>>();
    let all_ready = services
        .iter()
        .all(|s| s.ready_replicas >= s.desired_replicas);
    let all_up = !services.is_empty() && services.iter().all(|s| s.ready_replicas > 0);
    let broker_ready = observed.and_then(|o| o.broker_ready);
    let transient = matches!(
        outcome,
        Outcome::Failed {
            permanent: false,
            ..
        }
    );

    let available = !stopped && all_up && broker_ready != Some(false) && observed.is_some();
    let reconciling = !stalled && !paused && (transient || !all_ready);
    let ready = available && all_ready && !stalled && !transient;

    let mut conditions = vec![
        condition(
            READY,
            ready,
            if ready {
                "ClusterReady"
            } else if stalled {
                stalled_reason
            } else if stopped {
                "Stopped"
            } else {
                "ServicesNotReady"
            },
            match (ready, &status.services_ready) {
                (true, _) => "every service is ready".into(),
                (false, Some(counts)) => format!("{counts} services ready"),
                (false, None) => "not reconciled yet".into(),
            },
        ),
        condition(
            RECONCILING,
            reconciling,
            if transient {
                "RetryingAfterError"
            } else if reconciling {
                "ScalingOrRolling"
            } else {
                "Idle"
            },
            match outcome {
                Outcome::Failed {
                    message,
                    permanent: false,
                } => message.clone(),
                _ if reconciling => "waiting for workloads to become ready".into(),
                _ => String::new(),
            },
        ),
        condition(STALLED, stalled, stalled_reason, stalled_message),
        condition(
            AVAILABLE,
            available,
            if available {
                "ServicesAvailable"
            } else if stopped {
                "Stopped"
            } else {
                "ServicesUnavailable"
            },
            if available {
                "every service has a ready replica".into()
            } else {
                String::new()
            },
        ),
        condition(
            RECONCILIATION_PAUSED,
            paused,
            if paused { "PausedBySpec" } else { "Active" },
            if paused {
                "spec.clusterOperation.reconciliationPaused is true: no child is written".into()
            } else {
                String::new()
            },
        ),
    ];
    conditions.push(match broker_ready {
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
    });

    let old_conditions = old.map(|o| o.conditions.as_slice()).unwrap_or_default();
    match observed.and_then(|o| o.broker.as_ref()) {
        Some(broker) => {
            let (reachable, reason, message) = broker.condition();
            conditions.push(condition(CHAIN_REACHABLE, reachable, reason, message));
        }
        // Not read this pass: the last known reachability stands.
        None => conditions.extend(
            old_conditions
                .iter()
                .find(|c| c.type_ == CHAIN_REACHABLE)
                .cloned(),
        ),
    }
    for c in &mut conditions {
        c.observed_generation = generation;
        c.last_transition_time = match old_conditions.iter().find(|o| o.type_ == c.type_) {
            Some(previous) if previous.status == c.status => previous.last_transition_time.clone(),
            _ => now.clone(),
        };
        // With an invalid spec nothing was observed: the children still run as before, so
        // BrokerReady and Available keep their last known value.
        if observed.is_none()
            && (c.type_ == BROKER_READY || c.type_ == AVAILABLE)
            && let Some(previous) = old_conditions.iter().find(|o| o.type_ == c.type_)
        {
            *c = Condition {
                observed_generation: generation,
                ..previous.clone()
            };
        }
    }
    status.conditions = conditions;
    status
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
