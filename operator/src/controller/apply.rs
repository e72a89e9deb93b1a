//! The only writes to children: generated material read back or created once, server-side
//! apply (one field manager, force, fixed order) skipping objects already in the desired
//! state, and deletion of children no longer desired.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::Mutex;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret};
use k8s_openapi::{NamespaceResourceScope, Resource as _};
use koinos_protocol::crypto::PrivateKey;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tracing::warn;

use super::build::broker_users::UserCredentials;
use super::build::keda::{KEDA_API_VERSION, ScaledObject, TriggerAuthentication};
use super::build::meta::{
    LABEL_GENERATED, cluster_selector, cluster_selector_labels, content_hash,
};
use super::build::monitoring::{MONITORING_API_VERSION, PodMonitor};
use super::build::rabbitmq::{AmqpCredentials, RETIRING_USERNAME_KEY, ROTATE_ANNOTATION};
use super::build::route::{GrpcRoute, HttpRoute};
use super::build::{Child, Desired, Generated, Order, Visitor};
use super::error::{Error, is_rejected};
use super::stores::ChildStores;
use crate::crd::FIELD_MANAGER;
use crate::model::broker_users::broker_users;
use crate::model::naming::{
    AMQP_PASSWORD_KEY, AMQP_USERNAME_KEY, ERLANG_COOKIE_KEY, P2P_SEED_KEY, PRODUCER_KEY_SECRET_KEY,
    amqp_secret_name, p2p_identity_secret_name, producer_key_secret_name,
};
use crate::model::profile::ServiceInput;
use crate::model::{Amqp, ValidatedCluster};

mod routes;
pub use self::routes::RoutesOutcome;

/// Annotation on every applied child: hash of the object as last applied.
pub const ANNOTATION_APPLIED_HASH: &str = "koinos.io/applied-hash";

/// What the apply step did, for status and Events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// `Kind/name` of objects written this pass.
    pub written: Vec<String>,
    /// Objects already in the desired state (no request sent).
    pub unchanged: usize,
    /// `Kind/name` of orphans deleted.
    pub deleted: Vec<String>,
    /// StatefulSets re-created to grow their volumes.
    pub grown: Vec<String>,
    /// What became of the PodMonitor (`None`: the walk did not reach it).
    pub monitoring: Option<MonitoringOutcome>,
    /// What became of the Gateway API routes (`None`: the walk did not reach them).
    pub routes: Option<RoutesOutcome>,
    /// What became of the managed broker's users (`None`: an external broker).
    pub broker_users: Option<crate::broker::users::UsersOutcome>,
}

/// The PodMonitor of `spec.monitoring.podMonitor` after a pass. Monitoring never fails a pass:
/// a cluster that cannot be monitored still runs, and the `Monitoring` condition says why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitoringOutcome {
    /// Monitoring is off (any PodMonitor left is deleted as an orphan).
    Disabled,
    /// The PodMonitor is as desired.
    Applied { name: String },
    /// The API server serves no `monitoring.coreos.com/v1` PodMonitor.
    CrdMissing,
    /// Discovery or the apply failed (RBAC, admission, the API server): the error.
    Failed { message: String },
}

/// How long the answer to "does the API server serve PodMonitors?" is reused. Shared by every
/// cluster, so a cluster without monitoring costs no request per pass, and installing the
/// Prometheus Operator is noticed within this much plus the next pass.
pub const DISCOVERY_TTL: std::time::Duration = std::time::Duration::from_secs(15);

/// Whether the API server serves an optional kind, remembered for [`DISCOVERY_TTL`].
#[derive(Debug, Default)]
pub struct Discovery {
    served: Mutex<HashMap<&'static str, (std::time::Instant, bool)>>,
}

impl Discovery {
    /// Whether `group_version` serves `kind` (a 404 of the group is "no").
    pub async fn serves(
        &self,
        client: &Client,
        group_version: &'static str,
        kind: &'static str,
    ) -> Result<bool, kube::Error> {
        if let Some((at, served)) = self.served.lock().expect("discovery lock").get(kind)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(*served);
        }
        let served = match client.list_api_group_resources(group_version).await {
            Ok(list) => list.resources.iter().any(|r| r.kind == kind),
            Err(kube::Error::Api(status)) if status.code == 404 => false,
            Err(error) => return Err(error),
        };
        self.remember(kind, served);
        Ok(served)
    }

    /// Record what a request just showed (e.g. a 404 from the kind's endpoint).
    pub fn remember(&self, kind: &'static str, served: bool) {
        self.served
            .lock()
            .expect("discovery lock")
            .insert(kind, (std::time::Instant::now(), served));
    }
}

/// Live `(generation or resourceVersion)` of each object right after we applied it, keyed by
/// uid: if it moved since, someone else changed the object and it is applied again.
#[derive(Debug, Default)]
pub struct AppliedCache {
    versions: Mutex<HashMap<String, String>>,
}

impl AppliedCache {
    fn version_of(meta: &kube::core::ObjectMeta) -> Option<String> {
        match meta.generation {
            Some(generation) => Some(format!("g{generation}")),
            None => meta.resource_version.as_ref().map(|rv| format!("r{rv}")),
        }
    }

    fn remember(&self, meta: &kube::core::ObjectMeta) {
        if let (Some(uid), Some(version)) = (meta.uid.clone(), Self::version_of(meta)) {
            self.versions
                .lock()
                .expect("cache lock")
                .insert(uid, version);
        }
    }

    /// False only when we know the object changed after our last apply.
    fn untouched_since_apply(&self, meta: &kube::core::ObjectMeta) -> bool {
        let Some(uid) = &meta.uid else { return false };
        match self.versions.lock().expect("cache lock").get(uid) {
            Some(version) => Self::version_of(meta).as_ref() == Some(version),
            None => true,
        }
    }
}

fn random_alphanumeric(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether the administrator's Secret asks for a new administrator.
fn rotation_requested(secret: &Secret) -> bool {
    secret.annotations().contains_key(ROTATE_ANNOTATION)
}

/// A new administrator (`koinos-<8 characters>`) with the cluster's Erlang cookie.
pub fn new_admin(erlang_cookie: String) -> AmqpCredentials {
    AmqpCredentials {
        username: format!("koinos-{}", random_alphanumeric(8).to_lowercase()),
        password: random_alphanumeric(32),
        erlang_cookie,
        retiring_username: None,
    }
}

fn secret_text(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone())
        .ok()
        .filter(|s| !s.is_empty())
}

/// A generated Secret: from the watch cache when it holds it (generated Secrets never change),
/// otherwise from the API server: a cache's "absent" may only be lag, and acting on it would
/// generate the material again.
async fn read_secret(
    api: &Api<Secret>,
    stores: Option<&ChildStores>,
    namespace: &str,
    name: &str,
) -> Result<Option<Secret>, Error> {
    if let Some(Some(cached)) = stores.and_then(|s| s.get::<Secret>(namespace, name)) {
        return Ok(Some((*cached).clone()));
    }
    api.get_opt(name)
        .await
        .map_err(|source| Error::ReadGenerated {
            kind: "Secret",
            name: name.into(),
            source,
        })
}

/// Read back generated material, generating (once) whatever does not exist yet. The
/// generated Secrets are then applied like any child, with identical content every pass.
pub async fn ensure_generated(
    client: &Client,
    stores: Option<&ChildStores>,
    vc: &ValidatedCluster,
) -> Result<Generated, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &vc.namespace);
    let read_secret = |name: String| {
        let secrets = secrets.clone();
        async move { read_secret(&secrets, stores, &vc.namespace, &name).await }
    };
    let mut generated = Generated::default();
    let corrupt = |name: &str, reason: &str| Error::CorruptGenerated {
        kind: "Secret",
        name: name.into(),
        reason: reason.into(),
    };

    if matches!(vc.amqp, Amqp::Managed(_)) {
        let name = amqp_secret_name(vc);
        let mut secret = read_secret(name.clone()).await?;
        // The one generated Secret that changes (an administrator rotation): a cached copy that
        // asks for one may be the one already rotated, so the API server's copy decides.
        if secret.as_ref().is_some_and(rotation_requested) {
            secret = self::read_secret(&secrets, None, &vc.namespace, &name).await?;
        }
        generated.admin_rotation_requested = secret.as_ref().is_some_and(rotation_requested);
        generated.amqp = Some(match secret {
            Some(secret) => AmqpCredentials {
                username: secret_text(&secret, AMQP_USERNAME_KEY)
                    .ok_or_else(|| corrupt(&name, "no username"))?,
                password: secret_text(&secret, AMQP_PASSWORD_KEY)
                    .ok_or_else(|| corrupt(&name, "no password"))?,
                erlang_cookie: secret_text(&secret, ERLANG_COOKIE_KEY)
                    .ok_or_else(|| corrupt(&name, "no erlang-cookie"))?,
                retiring_username: secret_text(&secret, RETIRING_USERNAME_KEY),
            },
            None => new_admin(random_alphanumeric(48)),
        });
    }
    // One user per workload of a managed broker. A missing Secret means a new user (a new name
    // too, so the old one can be removed only once nothing uses it): deleting it rotates.
    for user in broker_users(vc) {
        let credentials = match read_secret(user.secret.clone()).await? {
            Some(secret) => UserCredentials {
                username: secret_text(&secret, AMQP_USERNAME_KEY)
                    .ok_or_else(|| corrupt(&user.secret, "no username"))?,
                password: secret_text(&secret, AMQP_PASSWORD_KEY)
                    .ok_or_else(|| corrupt(&user.secret, "no password"))?,
            },
            None => {
                generated.new_users.insert(user.key.clone());
                UserCredentials {
                    username: format!("{}-{}", user.key, random_alphanumeric(8).to_lowercase()),
                    password: random_alphanumeric(32),
                }
            }
        };
        generated.broker_users.insert(user.key, credentials);
    }
    if vc.network.is_devnet() {
        let name = producer_key_secret_name(&vc.name);
        generated.producer_key = Some(match read_secret(name.clone()).await? {
            Some(secret) => secret_text(&secret, PRODUCER_KEY_SECRET_KEY)
                .and_then(|wif| PrivateKey::from_wif(&wif).ok())
                .ok_or_else(|| corrupt(&name, "private.key is not a WIF private key"))?,
            None => PrivateKey::generate(),
        });
    }
    if vc.takes(ServiceInput::NodeSeed) {
        let name = p2p_identity_secret_name(vc);
        generated.p2p_seed = Some(match read_secret(name.clone()).await? {
            Some(secret) => {
                secret_text(&secret, P2P_SEED_KEY).ok_or_else(|| corrupt(&name, "no seed"))?
            }
            None => random_alphanumeric(32),
        });
    }
    Ok(generated)
}

/// Applies objects with server-side apply, skipping those already as desired.
pub struct Applier<'a> {
    client: &'a Client,
    namespace: &'a str,
    cache: &'a AppliedCache,
    stores: Option<&'a ChildStores>,
    discovery: Option<&'a Discovery>,
    pub applied: Applied,
}

impl<'a> Applier<'a> {
    pub fn new(client: &'a Client, namespace: &'a str, cache: &'a AppliedCache) -> Self {
        Self {
            client,
            namespace,
            cache,
            stores: None,
            discovery: None,
            applied: Applied::default(),
        }
    }

    /// Read live children from these watch caches (where ready) instead of the API server.
    pub fn with_stores(mut self, stores: &'a ChildStores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// Remember optional kinds' discovery across passes (and clusters) in `discovery`.
    pub fn with_discovery(mut self, discovery: &'a Discovery) -> Self {
        self.discovery = Some(discovery);
        self
    }

    /// Whether the API server serves PodMonitors (cached when a [`Discovery`] is given).
    async fn serves_pod_monitors(&self) -> Result<bool, kube::Error> {
        let local = Discovery::default();
        self.discovery
            .unwrap_or(&local)
            .serves(self.client, MONITORING_API_VERSION, PodMonitor::KIND)
            .await
    }

    /// Apply the PodMonitor when its CRD is served; record what happened instead of failing.
    async fn apply_pod_monitors(&mut self, objects: &[PodMonitor]) -> MonitoringOutcome {
        let Some(pod_monitor) = objects.first() else {
            return MonitoringOutcome::Disabled;
        };
        match self.serves_pod_monitors().await {
            Ok(true) => {}
            Ok(false) => return MonitoringOutcome::CrdMissing,
            Err(error) => {
                return MonitoringOutcome::Failed {
                    message: format!("discovering {MONITORING_API_VERSION}: {}", describe(&error)),
                };
            }
        }
        match self.apply(pod_monitor).await {
            Ok(()) => MonitoringOutcome::Applied {
                name: pod_monitor.name_any(),
            },
            // The CRD went away since discovery said otherwise.
            Err(Error::Apply {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 404 => {
                if let Some(discovery) = self.discovery {
                    discovery.remember(PodMonitor::KIND, false);
                }
                MonitoringOutcome::CrdMissing
            }
            Err(Error::Apply { source, name, .. }) => MonitoringOutcome::Failed {
                message: format!("applying PodMonitor {name}: {}", describe(&source)),
            },
            Err(other) => MonitoringOutcome::Failed {
                message: other.to_string(),
            },
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    /// Apply one object unless its live copy carries the same applied-hash and nobody
    /// changed it since.
    pub async fn apply<K: Child>(&mut self, object: &K) -> Result<(), Error> {
        let kind = <K as k8s_openapi::Resource>::KIND;
        let name = object.name_any();
        let mut object = object.clone();
        let hash = content_hash(&serde_json::to_vec(&object).expect("objects serialize"));
        object
            .annotations_mut()
            .insert(ANNOTATION_APPLIED_HASH.into(), hash.clone());
        let api: Api<K> = self.api();
        let cached = self
            .stores
            .and_then(|stores| stores.get::<K>(self.namespace, &name));
        let live = match cached {
            Some(cached) => cached.map(|live| (*live).clone()),
            None => api.get_opt(&name).await.map_err(|source| Error::Apply {
                kind,
                name: name.clone(),
                source,
            })?,
        };
        if let Some(live) = &live
            && live.annotations().get(ANNOTATION_APPLIED_HASH) == Some(&hash)
            && self.cache.untouched_since_apply(live.meta())
        {
            self.applied.unchanged += 1;
            return Ok(());
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let result = api.patch(&name, &params, &Patch::Apply(&object)).await;
        let written = match result {
            Ok(written) => written,
            Err(source) => return Err(Error::Apply { kind, name, source }),
        };
        self.cache.remember(written.meta());
        self.applied.written.push(format!("{kind}/{name}"));
        Ok(())
    }

    /// Apply a StatefulSet; when the API server refuses a change to its (immutable) volume
    /// claim templates because storage grew or `storage.dataSource` changed, grow the existing
    /// PVCs in place (if it grew), delete the StatefulSet without its pods (orphan) and apply
    /// it again. A new data source seeds only the volumes created afterwards.
    pub async fn apply_stateful_set(&mut self, desired: &StatefulSet) -> Result<(), Error> {
        let result = self.apply(desired).await;
        let name = match &result {
            Err(Error::Apply { source, name, .. }) if is_rejected(source) => name.clone(),
            _ => return result,
        };
        let (grew, reseeded) = self.claims_changed(desired).await?;
        if !grew && !reseeded {
            return result;
        }
        let recreate = async {
            if grew {
                self.grow_volumes(desired).await?;
            }
            let sets: Api<StatefulSet> = self.api();
            let orphan = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Orphan),
                ..Default::default()
            };
            sets.delete(&name, &orphan).await.map(drop)
        };
        recreate.await.map_err(|source| Error::GrowVolumes {
            name: name.clone(),
            source,
        })?;
        if grew {
            self.applied.grown.push(name);
        }
        self.apply(desired).await
    }

    /// Whether the live StatefulSet's volume claim template differs from `desired`'s in its
    /// size, and in its data source.
    async fn claims_changed(&self, desired: &StatefulSet) -> Result<(bool, bool), Error> {
        let api: Api<StatefulSet> = self.api();
        let name = desired.name_any();
        let live = api
            .get_opt(&name)
            .await
            .map_err(|source| Error::GrowVolumes {
                name: name.clone(),
                source,
            })?;
        let template = |sts: &StatefulSet| -> Option<PersistentVolumeClaimSpec> {
            sts.spec
                .as_ref()?
                .volume_claim_templates
                .as_ref()?
                .first()?
                .spec
                .clone()
        };
        let size = |spec: &PersistentVolumeClaimSpec| -> Option<String> {
            Some(
                spec.resources
                    .as_ref()?
                    .requests
                    .as_ref()?
                    .get("storage")?
                    .0
                    .clone(),
            )
        };
        let (Some(live), Some(desired)) = (live.as_ref().and_then(template), template(desired))
        else {
            return Ok((false, false));
        };
        let grew = matches!((size(&live), size(&desired)), (Some(a), Some(b)) if a != b);
        let reseeded = live.data_source_ref != desired.data_source_ref;
        Ok((grew, reseeded))
    }

    async fn grow_volumes(&self, desired: &StatefulSet) -> Result<(), kube::Error> {
        let name = desired.name_any();
        let pvcs: Api<PersistentVolumeClaim> = self.api();
        let spec = desired
            .spec
            .as_ref()
            .expect("built StatefulSets have a spec");
        let template = &spec
            .volume_claim_templates
            .as_ref()
            .expect("checked by claims_changed")[0];
        let size = template
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref());
        let selector = spec.selector.match_labels.clone().unwrap_or_default();
        let selector = selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let prefix = format!("{}-{name}-", template.name_any());
        for pvc in pvcs.list(&ListParams::default().labels(&selector)).await? {
            if pvc.name_any().starts_with(&prefix) {
                let patch = json!({"spec": {"resources": {"requests": size}}});
                pvcs.patch(
                    &pvc.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Fail with a clear message unless the API server serves KEDA's ScaledObject and
    /// TriggerAuthentication (otherwise the apply would fail with a bare 404).
    async fn require_keda(&self) -> Result<(), Error> {
        let resources = match self.client.list_api_group_resources(KEDA_API_VERSION).await {
            Ok(list) => list.resources,
            Err(kube::Error::Api(status)) if status.code == 404 => Vec::new(),
            Err(source) => return Err(Error::DiscoverKeda { source }),
        };
        let served = |kind: &str| resources.iter().any(|r| r.kind == kind);
        if served(ScaledObject::KIND) && served(TriggerAuthentication::KIND) {
            Ok(())
        } else {
            Err(Error::KedaCrdsMissing)
        }
    }

    /// KEDA's admission webhook refuses a ScaledObject whose workload another HPA scales, so
    /// when a service moves from provider hpa to keda our HPA (same name, same owner) goes
    /// first, not in the orphan cleanup after the apply.
    async fn retire_hpa_for(&mut self, scaled_object: &ScaledObject) -> Result<(), Error> {
        let name = scaled_object.name_any();
        let kind = HorizontalPodAutoscaler::KIND;
        let failed = |source| Error::DeleteOrphan {
            kind,
            name: name.clone(),
            source,
        };
        let api: Api<HorizontalPodAutoscaler> = self.api();
        let Some(hpa) = api.get_opt(&name).await.map_err(failed)? else {
            return Ok(());
        };
        let owner = |refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]| {
            refs.iter()
                .find(|o| o.controller == Some(true))
                .map(|o| o.uid.clone())
        };
        if owner(hpa.owner_references()).is_none()
            || owner(hpa.owner_references()) != owner(scaled_object.owner_references())
        {
            return Ok(());
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => self.applied.deleted.push(format!("{kind}/{name}")),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => return Err(failed(source)),
        }
        Ok(())
    }

    /// Everything in the fixed order ([`Order::Apply`]).
    pub async fn apply_all(&mut self, desired: &Desired) -> Result<(), Error> {
        desired.visit(Order::Apply, self).await
    }

    /// Delete this cluster's children (by label and owner) that are no longer desired, in
    /// [`Order::Cleanup`]. Generated Secrets are kept: they go with the cluster.
    pub async fn delete_orphans(
        &mut self,
        vc: &ValidatedCluster,
        desired: &Desired,
    ) -> Result<(), Error> {
        let mut cleanup = OrphanCleanup { applier: self, vc };
        desired.visit(Order::Cleanup, &mut cleanup).await
    }

    async fn delete_orphans_of<K: Child>(
        &mut self,
        vc: &ValidatedCluster,
        keep: BTreeSet<String>,
    ) -> Result<(), Error> {
        let kind = <K as k8s_openapi::Resource>::KIND;
        let api: Api<K> = self.api();
        let cached = self.stores.and_then(|stores| {
            stores.list::<K>(self.namespace, &cluster_selector_labels(&vc.name))
        });
        let items: Vec<kube::core::ObjectMeta> = match cached {
            Some(items) => items.iter().map(|o| o.meta().clone()).collect(),
            None => match api
                .list_metadata(&ListParams::default().labels(&cluster_selector(&vc.name)))
                .await
            {
                Ok(list) => list.items.into_iter().map(|o| o.metadata).collect(),
                // A kind the API server does not serve (KEDA not installed) has no children.
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
                Err(source) => return Err(Error::ListChildren { kind, source }),
            },
        };
        for item in items {
            let name = item.name.clone().unwrap_or_default();
            let owned = item
                .owner_references
                .iter()
                .flatten()
                .any(|o| Some(&o.uid) == vc.uid.as_ref() && o.controller == Some(true));
            let generated = item
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_GENERATED))
                .map(String::as_str)
                == Some("true");
            if keep.contains(&name) || !owned || generated {
                continue;
            }
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => self.applied.deleted.push(format!("{kind}/{name}")),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(source) => return Err(Error::DeleteOrphan { kind, name, source }),
            }
        }
        Ok(())
    }
}

/// Applies each desired object.
impl Visitor for Applier<'_> {
    type Error = Error;

    async fn visit<K: Child>(&mut self, objects: &[K]) -> Result<(), Error> {
        for o in objects {
            self.apply(o).await?;
        }
        Ok(())
    }

    async fn visit_stateful_sets(&mut self, objects: &[StatefulSet]) -> Result<(), Error> {
        for o in objects {
            self.apply_stateful_set(o).await?;
        }
        Ok(())
    }

    /// Never an error: the outcome goes to the `Monitoring` condition.
    async fn visit_pod_monitors(&mut self, objects: &[PodMonitor]) -> Result<(), Error> {
        let outcome = self.apply_pod_monitors(objects).await;
        if let MonitoringOutcome::Failed { message } = &outcome {
            warn!(%message, "PodMonitor");
        }
        self.applied.monitoring = Some(outcome);
        Ok(())
    }

    /// Never an error: the outcome goes to the `Routes` condition.
    async fn visit_routes(
        &mut self,
        http_routes: &[HttpRoute],
        grpc_routes: &[GrpcRoute],
    ) -> Result<(), Error> {
        let outcome = self.apply_routes(http_routes, grpc_routes).await;
        if let RoutesOutcome::Failed { message } = &outcome {
            warn!(%message, "Gateway API routes");
        }
        self.applied.routes = Some(outcome);
        Ok(())
    }

    /// KEDA's CRDs are checked first; each ScaledObject replaces our HPA of its workload.
    async fn visit_keda(
        &mut self,
        order: Order,
        trigger_authentications: &[TriggerAuthentication],
        scaled_objects: &[ScaledObject],
    ) -> Result<(), Error> {
        debug_assert_eq!(order, Order::Apply, "the applier applies");
        if !scaled_objects.is_empty() {
            self.require_keda().await?;
        }
        self.visit(trigger_authentications).await?;
        for o in scaled_objects {
            self.retire_hpa_for(o).await?;
            self.apply(o).await?;
        }
        Ok(())
    }
}

/// Deletes the children of each kind that are not desired.
struct OrphanCleanup<'a, 'b> {
    applier: &'b mut Applier<'a>,
    vc: &'b ValidatedCluster,
}

impl Visitor for OrphanCleanup<'_, '_> {
    type Error = Error;

    async fn visit<K: Child>(&mut self, objects: &[K]) -> Result<(), Error> {
        self.applier
            .delete_orphans_of::<K>(self.vc, names_of(objects))
            .await
    }

    /// Nothing to list where PodMonitors are not served (no request then, thanks to the
    /// discovery cache); an operator not allowed to list them made none.
    async fn visit_pod_monitors(&mut self, objects: &[PodMonitor]) -> Result<(), Error> {
        match self.applier.serves_pod_monitors().await {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(error) => {
                warn!(error = %describe(&error), "discovering PodMonitors for orphan cleanup");
                return Ok(());
            }
        }
        match self
            .applier
            .delete_orphans_of::<PodMonitor>(self.vc, names_of(objects))
            .await
        {
            Err(Error::ListChildren {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 403 => {
                warn!(message = %status.message, "listing PodMonitors for orphan cleanup");
                Ok(())
            }
            other => other,
        }
    }

    async fn visit_routes(
        &mut self,
        http_routes: &[HttpRoute],
        grpc_routes: &[GrpcRoute],
    ) -> Result<(), Error> {
        self.applier
            .delete_route_orphans(self.vc, http_routes, grpc_routes)
            .await
    }
}

/// A kube error as users read it: the API server's message when there is one.
fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} (HTTP {})", status.message, status.code),
        other => other.to_string(),
    }
}

/// The names of desired objects of one kind, for the orphan set difference.
fn names_of<K: kube::Resource>(objects: &[K]) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|o| o.meta().name.clone())
        .collect()
}

#[cfg(test)]
mod tests;
