//! Pure builders: `ValidatedCluster` (+ generated material) -> every desired child object.
//! No client, clock or randomness here: anything generated comes in through [`Generated`].

pub mod config;
pub mod devnet;
pub mod hpa;
pub mod keda;
pub mod meta;
pub mod pdb;
pub mod pvc;
pub mod rabbitmq;
pub mod security;
pub mod service;
pub mod workload;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use koinos_protocol::crypto::PrivateKey;

use self::keda::{ScaledObject, TriggerAuthentication};
use self::meta::{LABEL_GENERATED, object_meta};
use self::rabbitmq::AmqpCredentials;
use self::workload::Workload;
use crate::model::naming::{
    P2P_SEED_KEY, amqp_secret_name, genesis_config_map_name, p2p_identity_secret_name,
    producer_key_secret_name,
};
use crate::model::profile::ServiceInput;
use crate::model::{Amqp, Network, ValidatedCluster};

/// Material generated once by the apply step (or read back from its Secret). `None` when
/// unknown, e.g. `render` without a cluster: the objects derived from it are then left out.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    pub amqp: Option<AmqpCredentials>,
    pub producer_key: Option<PrivateKey>,
    pub p2p_seed: Option<String>,
}

/// Every child the cluster should have, by kind, in apply order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    pub services: Vec<Service>,
    pub network_policies: Vec<NetworkPolicy>,
    pub stateful_sets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub hpas: Vec<HorizontalPodAutoscaler>,
    /// KEDA objects (`autoscaling.provider: keda`); KEDA's CRDs must be installed.
    pub trigger_authentications: Vec<TriggerAuthentication>,
    pub scaled_objects: Vec<ScaledObject>,
    pub pdbs: Vec<PodDisruptionBudget>,
    /// Generated objects that could not be built for lack of their input (`kind/name`).
    pub pending_generated: Vec<String>,
}

/// The p2p identity Secret (the node key seed).
pub fn build_p2p_identity_secret(vc: &ValidatedCluster, seed: &str) -> Secret {
    let mut metadata = object_meta(vc, p2p_identity_secret_name(vc), "p2p");
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_GENERATED.into(), "true".into());
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            P2P_SEED_KEY.to_string(),
            ByteString(seed.as_bytes().to_vec()),
        )])),
        ..Default::default()
    }
}

/// Everything the cluster should contain.
pub fn build(vc: &ValidatedCluster, generated: &Generated) -> Desired {
    let mut desired = Desired::default();
    desired.config_maps.push(config::build_config_map(vc));

    if vc.network == Network::Devnet {
        match &generated.producer_key {
            Some(key) => {
                desired
                    .config_maps
                    .push(devnet::build_devnet_genesis_config_map(vc, key));
                desired
                    .secrets
                    .push(devnet::build_producer_key_secret(vc, key));
            }
            None => {
                desired
                    .pending_generated
                    .push(format!("ConfigMap/{}", genesis_config_map_name(vc)));
                desired
                    .pending_generated
                    .push(format!("Secret/{}", producer_key_secret_name(&vc.name)));
            }
        }
    }
    if vc.takes(ServiceInput::NodeSeed) {
        match &generated.p2p_seed {
            Some(seed) => desired.secrets.push(build_p2p_identity_secret(vc, seed)),
            None => desired
                .pending_generated
                .push(format!("Secret/{}", p2p_identity_secret_name(vc))),
        }
    }

    if let Amqp::Managed(broker) = &vc.amqp {
        desired
            .config_maps
            .push(rabbitmq::build_rabbitmq_config_map(vc, broker));
        match &generated.amqp {
            Some(credentials) => desired
                .secrets
                .push(rabbitmq::build_amqp_secret(vc, credentials)),
            None => desired
                .pending_generated
                .push(format!("Secret/{}", amqp_secret_name(vc))),
        }
        desired
            .services
            .push(rabbitmq::build_rabbitmq_headless_service(vc));
        desired
            .services
            .push(rabbitmq::build_rabbitmq_client_service(vc));
        desired
            .network_policies
            .push(rabbitmq::build_rabbitmq_network_policy(vc));
        desired
            .stateful_sets
            .push(rabbitmq::build_rabbitmq_statefulset(vc, broker));
        if broker.replicas > 1 {
            desired.pdbs.push(pdb::build_pdb(vc, rabbitmq::COMPONENT));
        }
    }

    for svc in &vc.services {
        desired
            .services
            .push(service::build_service_service(vc, svc));
        match workload::build_service_workload(vc, svc) {
            Workload::StatefulSet(sts) => desired.stateful_sets.push(*sts),
            Workload::Deployment(deployment) => desired.deployments.push(*deployment),
        }
        desired.hpas.extend(hpa::build_service_hpa(vc, svc));
        if svc.is_multi_replica() {
            desired.pdbs.push(pdb::build_pdb(vc, svc.profile.component));
        }
    }
    (desired.scaled_objects, desired.trigger_authentications) = keda::build_keda(vc);
    desired
}

#[cfg(test)]
mod tests;
