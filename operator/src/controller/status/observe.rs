//! What a pass observes of the cluster's children and of the user's objects its pods need
//! (from the watch caches when they are ready, else from the API server).

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, LoadBalancerStatus, Secret, Service};
use kube::{Api, Client};

use super::{MissingInput, Observed, ObservedService};
use crate::controller::build::{Child, rabbitmq};
use crate::controller::error::Error;
use crate::controller::stores::ChildStores;
use crate::controller::users::stateful_set_updating;
use crate::crd::service::ServiceType;
use crate::crd::status::P2pStatus;
use crate::model::announce::{p2p_announce, with_observed_announce};
use crate::model::naming::{
    InputKind, P2P_SEED_KEY, UserInput, child_name, p2p_identity_secret_name, user_inputs,
};
use crate::model::profile::{P2P_PORT, ServiceKind};
use crate::model::{Amqp, ValidatedCluster, ValidatedService};

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
        observed.broker_rolling_out = sts
            .as_ref()
            .filter(|sts| stateful_set_updating(sts))
            .map(|sts| sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1));
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
    let load_balancer = p2p_load_balancer(client, stores, vc).await?;
    observed.p2p_announce = vc
        .service(ServiceKind::P2p)
        .and_then(|p2p| p2p_announce(p2p, load_balancer.as_ref()));
    let vc = with_observed_announce(vc, load_balancer.as_ref());
    observed.p2p = observe_p2p(client, stores, &vc).await?;
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

/// The `status.loadBalancer` of p2p's Service when p2p is to announce the address the cloud
/// assigns it (a LoadBalancer without `announce`), else `None`.
pub async fn p2p_load_balancer(
    client: &Client,
    stores: Option<&ChildStores>,
    vc: &ValidatedCluster,
) -> Result<Option<LoadBalancerStatus>, Error> {
    let Some(p2p) = vc
        .service(ServiceKind::P2p)
        .filter(|p2p| p2p.announce.is_none() && p2p.exposure.type_ == ServiceType::LoadBalancer)
    else {
        return Ok(None);
    };
    let name = child_name(vc, p2p.profile.component);
    let service = live::<Service>(client, stores, vc, &name).await?;
    Ok(service.and_then(|s| s.status).and_then(|s| s.load_balancer))
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
    missing.extend(super::sources::missing_sources(client, vc).await?);
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
