//! Pure builders: `ValidatedCluster` (+ generated material) -> every desired child object.
//! No client, clock or randomness here: anything generated comes in through [`Generated`].

pub mod amqp_ca;
pub mod broker_users;
pub mod config;
pub mod devnet;
pub mod extra;
pub mod hpa;
pub mod ingress;
pub mod keda;
pub mod meta;
pub mod monitoring;
pub mod network;
pub mod pdb;
pub mod pvc;
pub mod rabbitmq;
pub mod route;
pub mod security;
pub mod service;
pub mod workload;

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::{ByteString, NamespaceResourceScope};

use koinos_protocol::crypto::PrivateKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::broker_users::UserCredentials;
use self::keda::{ScaledObject, TriggerAuthentication};
use self::meta::{LABEL_GENERATED, object_meta};
use self::monitoring::PodMonitor;
use self::rabbitmq::AmqpCredentials;
use self::route::{GrpcRoute, HttpRoute, Route};
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
    /// The managed broker's administrator (and Erlang cookie).
    pub amqp: Option<AmqpCredentials>,
    /// `<cluster>-amqp` carries [`rabbitmq::ROTATE_ANNOTATION`]: a new administrator is wanted.
    pub admin_rotation_requested: bool,
    /// The managed broker's users, by [`crate::model::broker_users::BrokerUser::key`].
    pub broker_users: BTreeMap<String, UserCredentials>,
    /// The users made this pass: only their Secrets are written. A read-back copy is never
    /// applied again, since that would re-create a Secret deleted (a rotation) since the read.
    pub new_users: std::collections::BTreeSet<String>,
    pub producer_key: Option<PrivateKey>,
    pub p2p_seed: Option<String>,
    /// Observed, not generated: the `status.loadBalancer` of p2p's Service as last seen (p2p
    /// announces the cloud's address when the spec sets no `announce`; see `model::announce`).
    pub p2p_load_balancer: Option<k8s_openapi::api::core::v1::LoadBalancerStatus>,
}

/// Every child the cluster should have, by kind, in apply order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    pub services: Vec<Service>,
    /// Ingresses of jsonrpc and grpc (`spec.services.<svc>.ingress`).
    pub ingresses: Vec<Ingress>,
    pub network_policies: Vec<NetworkPolicy>,
    pub stateful_sets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub hpas: Vec<HorizontalPodAutoscaler>,
    /// KEDA objects (`autoscaling.provider: keda`); KEDA's CRDs must be installed.
    pub trigger_authentications: Vec<TriggerAuthentication>,
    pub scaled_objects: Vec<ScaledObject>,
    pub pdbs: Vec<PodDisruptionBudget>,
    /// The PodMonitor (`spec.monitoring.podMonitor`); the Prometheus Operator's CRDs must be
    /// installed (without them it is left out and the `Monitoring` condition says so).
    pub pod_monitors: Vec<PodMonitor>,
    /// Gateway API routes (`spec.services.<svc>.route`): jsonrpc's HTTPRoute, grpc's
    /// GRPCRoute; the Gateway API's CRDs must be installed (without them they are left out and
    /// the `Routes` condition says so).
    pub http_routes: Vec<HttpRoute>,
    pub grpc_routes: Vec<GrpcRoute>,
    /// Generated objects that could not be built for lack of their input (`kind/name`).
    pub pending_generated: Vec<String>,
}

/// A kind of child the operator owns: what every walk over [`Desired`] needs of its objects.
pub trait Child:
    kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + k8s_openapi::Resource
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Child for K where
    K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + k8s_openapi::Resource
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// The order of a walk over [`Desired`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// config -> Secrets -> Services -> Ingresses -> NetworkPolicies -> StatefulSets (broker first) ->
    /// Deployments -> HPAs -> TriggerAuthentications -> ScaledObjects -> PDBs -> PodMonitors ->
    /// routes.
    Apply,
    /// The same, except that KEDA's objects go after the PDBs and ScaledObjects before
    /// TriggerAuthentications: KEDA then removes the HPA it made for each.
    Cleanup,
}

/// Something done to each kind of desired child in turn (see [`Desired::visit`]). The kinds
/// that need more than [`Visitor::visit`] have a method of their own, which defaults to it.
pub trait Visitor: Send {
    type Error;

    fn visit<K: Child>(
        &mut self,
        objects: &[K],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    fn visit_stateful_sets(
        &mut self,
        objects: &[StatefulSet],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.visit(objects)
    }

    /// The PodMonitors, last in both orders (optional: the applier never fails the pass on
    /// them).
    fn visit_pod_monitors(
        &mut self,
        objects: &[PodMonitor],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.visit(objects)
    }

    /// The Gateway API routes, after the PodMonitors in both orders (optional: the applier
    /// never fails the pass on them).
    fn visit_routes(
        &mut self,
        http_routes: &[HttpRoute],
        grpc_routes: &[GrpcRoute],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async move {
            self.visit(http_routes).await?;
            self.visit(grpc_routes).await
        }
    }

    /// KEDA's objects: TriggerAuthentications then ScaledObjects, the reverse in
    /// [`Order::Cleanup`].
    fn visit_keda(
        &mut self,
        order: Order,
        trigger_authentications: &[TriggerAuthentication],
        scaled_objects: &[ScaledObject],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async move {
            match order {
                Order::Apply => {
                    self.visit(trigger_authentications).await?;
                    self.visit(scaled_objects).await
                }
                Order::Cleanup => {
                    self.visit(scaled_objects).await?;
                    self.visit(trigger_authentications).await
                }
            }
        }
    }
}

impl Desired {
    /// Visit every kind of child, in `order`. The one walk over the kinds: a new kind that is
    /// not visited here fails to compile.
    pub async fn visit<V: Visitor>(&self, order: Order, visitor: &mut V) -> Result<(), V::Error> {
        let Desired {
            config_maps,
            secrets,
            services,
            ingresses,
            network_policies,
            stateful_sets,
            deployments,
            hpas,
            trigger_authentications,
            scaled_objects,
            pdbs,
            pod_monitors,
            http_routes,
            grpc_routes,
            pending_generated: _,
        } = self;
        visitor.visit(config_maps).await?;
        visitor.visit(secrets).await?;
        visitor.visit(services).await?;
        visitor.visit(ingresses).await?;
        visitor.visit(network_policies).await?;
        visitor.visit_stateful_sets(stateful_sets).await?;
        visitor.visit(deployments).await?;
        visitor.visit(hpas).await?;
        match order {
            Order::Apply => {
                visitor
                    .visit_keda(order, trigger_authentications, scaled_objects)
                    .await?;
                visitor.visit(pdbs).await?;
            }
            Order::Cleanup => {
                visitor.visit(pdbs).await?;
                visitor
                    .visit_keda(order, trigger_authentications, scaled_objects)
                    .await?;
            }
        }
        visitor.visit_pod_monitors(pod_monitors).await?;
        visitor.visit_routes(http_routes, grpc_routes).await
    }
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
    let vc =
        &*crate::model::announce::with_observed_announce(vc, generated.p2p_load_balancer.as_ref());
    // A pob devnet's contract ids (in the producer's config) derive from the producer key.
    let vc = &*vc.with_devnet_producer(generated.producer_key.as_ref());
    let mut desired = Desired::default();
    desired.config_maps.push(config::build_config_map(vc));

    if let Network::Devnet { token, consensus } = vc.network {
        match &generated.producer_key {
            Some(key) => {
                desired
                    .config_maps
                    .push(devnet::build_devnet_genesis_config_map(
                        vc, key, token, consensus,
                    ));
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
    if let Some(preset) = vc.network.ships_genesis() {
        desired
            .config_maps
            .push(network::build_preset_genesis_config_map(vc, preset));
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
    for user in crate::model::broker_users::broker_users(vc) {
        match generated.broker_users.get(&user.key) {
            Some(credentials) if generated.new_users.contains(&user.key) => desired
                .secrets
                .push(broker_users::build_user_secret(vc, &user, credentials)),
            Some(_) => {} // exists: left as it is (see `Generated::new_users`)
            None => desired
                .pending_generated
                .push(format!("Secret/{}", user.secret)),
        }
    }
    // The user a workload connects as (managed broker only): a new one rolls its pods.
    let username = |key: &str| match vc.amqp {
        Amqp::Managed(_) => generated.broker_users.get(key).map(|c| c.username.as_str()),
        Amqp::External { .. } => None,
    };

    for svc in &vc.services {
        desired
            .services
            .push(service::build_service_service(vc, svc));
        desired.ingresses.extend(ingress::build_ingress(vc, svc));
        match route::build_route(vc, svc) {
            Some(Route::Http(r)) => desired.http_routes.push(r),
            Some(Route::Grpc(r)) => desired.grpc_routes.push(r),
            None => {}
        }
        let user = username(svc.profile.component);
        match workload::build_service_workload(vc, svc) {
            Workload::StatefulSet(mut sts) => {
                if let Some(user) = user {
                    broker_users::annotate_stateful_set(&mut sts, user);
                }
                desired.stateful_sets.push(*sts)
            }
            Workload::Deployment(mut deployment) => {
                if let Some(user) = user {
                    broker_users::annotate_deployment(&mut deployment, user);
                }
                desired.deployments.push(*deployment)
            }
        }
        desired.hpas.extend(hpa::build_service_hpa(vc, svc));
        if svc.is_multi_replica() {
            desired.pdbs.push(pdb::build_pdb(vc, svc.profile.component));
        }
    }
    for extra in &vc.extra_services {
        let mut deployment = extra::build_extra_deployment(vc, extra);
        if let Some(user) = username(&extra.name) {
            broker_users::annotate_deployment(&mut deployment, user);
        }
        desired.deployments.push(deployment);
        desired.hpas.extend(extra::build_extra_hpa(vc, extra));
        if extra.is_multi_replica() {
            desired.pdbs.push(pdb::build_pdb(vc, &extra.name));
        }
    }
    (desired.scaled_objects, desired.trigger_authentications) = keda::build_keda(vc);
    desired
        .pod_monitors
        .extend(monitoring::build_pod_monitor(vc));
    desired
}

#[cfg(test)]
mod tests;
