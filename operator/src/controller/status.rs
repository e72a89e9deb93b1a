//! Status: computed purely from the outcome of this pass and the observed children, then one
//! patch, skipped when nothing changed. `lastTransitionTime` moves only when a condition flips.
//! What the cluster's own broker reports (`status.chain`, queue depths) is merged by [`chain`].

pub mod chain;
pub mod conditions;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{Api, Client};

use super::apply::MonitoringOutcome;
use super::build::{Child, rabbitmq};
use super::error::Error;
use super::stores::ChildStores;
use crate::crd::status::{ChainStatus, KoinosClusterStatus, P2pStatus, ServiceStatus};
use crate::model::naming::{
    InputKind, P2P_SEED_KEY, UserInput, child_name, p2p_identity_secret_name, user_inputs,
};
use crate::model::profile::{P2P_PORT, ServiceKind};
use crate::model::{Amqp, ValidatedCluster, ValidatedService};

pub use self::chain::{BrokerObservation, CHAIN_REACHABLE, PROGRESSING, SYNCED};
use self::conditions::Facts;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const AVAILABLE: &str = "Available";
pub const BROKER_READY: &str = "BrokerReady";
pub const RECONCILIATION_PAUSED: &str = "ReconciliationPaused";
pub const MONITORING: &str = "Monitoring";

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
    /// `MissingGenesis`, `MissingProducerKey`, `MissingBrokerSecret`.
    pub reason: &'static str,
    /// Names the object, the key and the spec field that refers to it.
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// `None` for an external broker (not probed).
    pub broker_ready: Option<bool>,
    pub services: Vec<ObservedService>,
    /// What the cluster's broker reported; `None`: not read (the previous chain status,
    /// queue depths and `ChainReachable` are kept).
    pub broker: Option<BrokerObservation>,
    /// The user's objects the pods need that do not exist (see [`missing_inputs`]).
    pub missing: Vec<MissingInput>,
    /// p2p's identity once its seed Secret exists (our p2p image only).
    pub p2p: Option<P2pStatus>,
    /// What became of the PodMonitor this pass (`None`: not applied this pass, e.g. paused or
    /// failed before it; the last `Monitoring` condition stands).
    pub monitoring: Option<MonitoringOutcome>,
}

/// A child from the watch cache when it is ready, else from the API server.
async fn live<K: Child>(
    client: &Client,
    stores: Option<&ChildStores>,
    vc: &ValidatedCluster,
    name: &str,
) -> Result<Option<K>, Error> {
    if let Some(cached) = stores.and_then(|s| s.get::<K>(&vc.namespace, name)) {
        return Ok(cached.map(|k| (*k).clone()));
    }
    let api: Api<K> = Api::namespaced(client.clone(), &vc.namespace);
    api.get_opt(name).await.map_err(|source| Error::ReadStatus {
        kind: <K as k8s_openapi::Resource>::KIND,
        name: name.to_string(),
        source,
    })
}

/// Read the workloads' replica counts (from the watch caches when given and ready).
pub async fn observe(
    client: &Client,
    stores: Option<&ChildStores>,
    vc: &ValidatedCluster,
) -> Result<Observed, Error> {
    let mut observed = Observed {
        missing: missing_inputs(client, vc).await?,
        ..Observed::default()
    };
    if let Amqp::Managed(_) = &vc.amqp {
        let name = child_name(vc, rabbitmq::COMPONENT);
        let sts = live::<StatefulSet>(client, stores, vc, &name).await?;
        let ready = sts
            .and_then(|s| s.status)
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        observed.broker_ready = Some(ready > 0);
    }
    for svc in &vc.services {
        let name = child_name(vc, svc.profile.component);
        let stateful = svc.profile.class.is_stateful_set();
        let (desired, ready) = observe_workload(client, stores, vc, &name, stateful).await?;
        observed.services.push(ObservedService {
            spec_name: svc.profile.spec_name.into(),
            desired: desired.unwrap_or(svc.replicas),
            ready: ready.unwrap_or(0),
            image: svc.image.clone(),
        });
    }
    // Extra services are members like ours: in `status.services` under their name (validate
    // keeps it apart from the Koinos services' names) and counted in `servicesReady`.
    for extra in &vc.extra_services {
        let name = child_name(vc, &extra.name);
        let (desired, ready) = observe_workload(client, stores, vc, &name, false).await?;
        observed.services.push(ObservedService {
            spec_name: extra.name.clone(),
            desired: desired.unwrap_or(extra.replicas),
            ready: ready.unwrap_or(0),
            image: extra.image.clone(),
        });
    }
    observed.p2p = observe_p2p(client, stores, vc).await?;
    Ok(observed)
}

/// `(spec.replicas, status.readyReplicas)` of the StatefulSet or Deployment `name`.
async fn observe_workload(
    client: &Client,
    stores: Option<&ChildStores>,
    vc: &ValidatedCluster,
    name: &str,
    stateful: bool,
) -> Result<(Option<i32>, Option<i32>), Error> {
    Ok(if stateful {
        let sts = live::<StatefulSet>(client, stores, vc, name).await?;
        let desired = sts
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.replicas);
        (
            desired,
            sts.and_then(|s| s.status).and_then(|s| s.ready_replicas),
        )
    } else {
        let deployment = live::<Deployment>(client, stores, vc, name).await?;
        let desired = deployment
            .as_ref()
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.replicas);
        let ready = deployment
            .and_then(|d| d.status)
            .and_then(|s| s.ready_replicas);
        (desired, ready)
    })
}

/// The peer id and in-cluster address of p2p when it runs our image (whose key derivation the
/// operator shares), from the generated seed.
async fn observe_p2p(
    client: &Client,
    stores: Option<&ChildStores>,
    vc: &ValidatedCluster,
) -> Result<Option<P2pStatus>, Error> {
    let Some(p2p) = vc.service(ServiceKind::P2p).filter(|s| s.services_image) else {
        return Ok(None);
    };
    let secret = live::<Secret>(client, stores, vc, &p2p_identity_secret_name(vc)).await?;
    let seed = secret
        .and_then(|s| s.data)
        .and_then(|mut data| data.remove(P2P_SEED_KEY))
        .and_then(|seed| String::from_utf8(seed.0).ok());
    Ok(seed.map(|seed| p2p_status(vc, p2p, &seed)))
}

/// What `status.p2p` says for the cluster's p2p service `p2p` with this seed.
pub fn p2p_status(vc: &ValidatedCluster, p2p: &ValidatedService, seed: &str) -> P2pStatus {
    let peer_id = koinos_protocol::p2p_identity::peer_id(seed);
    let address = format!(
        "/dns4/{}.{}.svc/tcp/{}/p2p/{peer_id}",
        child_name(vc, p2p.profile.component),
        vc.namespace,
        P2P_PORT.port
    );
    let external_address = p2p
        .announce
        .as_ref()
        .map(|announce| format!("{announce}/p2p/{peer_id}"));
    P2pStatus {
        peer_id,
        address,
        external_address,
    }
}

/// Which of the user's objects the pods need are missing (or lack their key).
pub async fn missing_inputs(
    client: &Client,
    vc: &ValidatedCluster,
) -> Result<Vec<MissingInput>, Error> {
    let mut missing = Vec::new();
    if vc.is_stopped() {
        return Ok(missing); // no pod waits for anything
    }
    for input in user_inputs(vc) {
        let (kind, keys) = match input.kind {
            InputKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &vc.namespace);
                let found = api
                    .get_opt(&input.name)
                    .await
                    .map_err(|source| Error::ReadStatus {
                        kind: "ConfigMap",
                        name: input.name.clone(),
                        source,
                    })?;
                let keys = found.map(|c| {
                    let data = c.data.unwrap_or_default().into_keys();
                    let binary = c.binary_data.unwrap_or_default().into_keys();
                    data.chain(binary).collect::<Vec<_>>()
                });
                ("ConfigMap", keys)
            }
            InputKind::Secret => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &vc.namespace);
                let found = api
                    .get_opt(&input.name)
                    .await
                    .map_err(|source| Error::ReadStatus {
                        kind: "Secret",
                        name: input.name.clone(),
                        source,
                    })?;
                let keys = found.map(|s| {
                    let data = s.data.unwrap_or_default().into_keys();
                    let string = s.string_data.unwrap_or_default().into_keys();
                    data.chain(string).collect::<Vec<_>>()
                });
                ("Secret", keys)
            }
        };
        if let Some(message) = missing_message(kind, &vc.namespace, &input, keys.as_deref()) {
            missing.push(MissingInput {
                reason: input.reason,
                message,
            });
        }
    }
    Ok(missing)
}

/// Why `input` cannot be used, given the keys of the object found (`None`: no object).
pub fn missing_message(
    kind: &str,
    namespace: &str,
    input: &UserInput,
    keys: Option<&[String]>,
) -> Option<String> {
    let object = format!("{kind} {namespace}/{}", input.name);
    match keys {
        None => Some(format!(
            "{object} (named by {}) does not exist: the pods that need it wait until it does",
            input.field
        )),
        Some(keys) if !keys.contains(&input.key) => Some(format!(
            "{object} (named by {}) has no key {}",
            input.field, input.key
        )),
        Some(_) => None,
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
