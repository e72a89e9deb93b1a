//! The managed broker's users, provisioned before the children are applied: a workload whose
//! Secret names a new user (a rotation) then rolls onto a user that already exists. The old
//! user is retired by a later pass, once that workload has rolled out and nothing is
//! connected as it ([`crate::broker::users::provision`]). The same pass keeps the RPC queues'
//! mirroring policy ([`crate::broker::policy`]).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use tracing::{info, warn};

use super::build::Generated;
use super::build::rabbitmq::{COMPONENT, client_service_name};
use super::stores::ChildStores;
use crate::broker::management::{MANAGEMENT_PORT, Management};
use crate::broker::policy::{PolicyOutcome, ensure_rpc_queue_policy};
use crate::broker::users::{Account, UsersOutcome, VHOST, provision};
use crate::model::broker_users::broker_users;
use crate::model::naming::child_name;
use crate::model::{Amqp, ValidatedCluster};

/// Bounds each management call: a broker that does not answer delays the apply this much.
const MANAGEMENT_TIMEOUT: Duration = Duration::from_secs(3);

/// `http://<cluster>-rabbitmq.<namespace>.svc:15672`.
pub fn management_url(vc: &ValidatedCluster) -> String {
    format!(
        "http://{}.{}.svc:{MANAGEMENT_PORT}",
        client_service_name(vc),
        vc.namespace
    )
}

/// Every replica runs the current pod template and is ready (pure).
pub fn stateful_set_rolled_out(sts: &StatefulSet) -> bool {
    let status = sts.status.clone().unwrap_or_default();
    let desired = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    status.observed_generation >= sts.metadata.generation
        && status.current_revision == status.update_revision
        && status.updated_replicas.unwrap_or(0) >= desired
        && status.ready_replicas.unwrap_or(0) >= desired
        && status.replicas <= desired
}

/// The StatefulSet is replacing its pods: a spec it has not acted on yet, or pods of an older
/// revision left (pure). A first start is not an update: both revisions are the same then.
pub fn stateful_set_updating(sts: &StatefulSet) -> bool {
    let Some(status) = sts.status.as_ref() else {
        return false;
    };
    let unseen = status.observed_generation < sts.metadata.generation;
    let replacing = status.update_revision.is_some()
        && status.current_revision.is_some()
        && status.current_revision != status.update_revision;
    unseen || replacing
}

/// Every replica runs the current pod template and is ready, no old one left (pure).
pub fn deployment_rolled_out(deployment: &Deployment) -> bool {
    let status = deployment.status.clone().unwrap_or_default();
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    status.observed_generation >= deployment.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= desired
        && status.ready_replicas.unwrap_or(0) >= desired
        && status.replicas.unwrap_or(0) <= status.updated_replicas.unwrap_or(0)
}

/// Whether the workload of user `key` has rolled out (true when it has none, or no longer has
/// one: nothing can still use the old user then).
fn settled(stores: &ChildStores, vc: &ValidatedCluster, key: &str) -> bool {
    let name = child_name(vc, key);
    if let Some(Some(sts)) = stores.get::<StatefulSet>(&vc.namespace, &name) {
        return stateful_set_rolled_out(&sts);
    }
    match stores.get::<Deployment>(&vc.namespace, &name) {
        Some(Some(deployment)) => deployment_rolled_out(&deployment),
        Some(None) => true,
        None => false, // no cache yet: wait
    }
}

/// Provisions the users of a managed broker with a ready node (`None`: an external broker).
pub async fn provision_users(
    stores: &ChildStores,
    vc: &ValidatedCluster,
    generated: &Generated,
) -> Option<UsersOutcome> {
    let Amqp::Managed(broker) = &vc.amqp else {
        return None;
    };
    let broker_ready = stores
        .get::<StatefulSet>(&vc.namespace, &child_name(vc, COMPONENT))
        .flatten()
        .and_then(|sts| sts.status.as_ref().and_then(|s| s.ready_replicas))
        .unwrap_or(0)
        > 0;
    let admin = generated.amqp.as_ref()?;
    if !broker_ready {
        return Some(UsersOutcome::BrokerNotReady);
    }
    let accounts: Vec<Account> = broker_users(vc)
        .into_iter()
        .filter_map(|user| {
            let credentials = generated.broker_users.get(&user.key)?;
            Some(Account {
                key: user.key,
                username: credentials.username.clone(),
                password: credentials.password.clone(),
                permissions: user.permissions,
            })
        })
        .collect();
    let api = Management::new(
        &management_url(vc),
        &admin.username,
        &admin.password,
        MANAGEMENT_TIMEOUT,
    );
    let outcome = provision(&api, VHOST, &accounts, |key| settled(stores, vc, key)).await;
    // The RPC queues' mirrors, with the same administrator (cheap: two GETs in steady state).
    match ensure_rpc_queue_policy(&api, VHOST, broker.replicas).await {
        Ok(PolicyOutcome::InPlace { changed: true }) => {
            info!(
                replicas = broker.replicas,
                "RPC queue mirroring policy updated"
            )
        }
        Ok(PolicyOutcome::Unsupported { version }) => {
            warn!(%version, "RabbitMQ 4 does not mirror classic queues: RPC queues are not replicated")
        }
        Ok(PolicyOutcome::InPlace { changed: false }) => {}
        Err(error) => warn!(%error, "RPC queue mirroring policy not set"),
    }
    match &outcome {
        UsersOutcome::Failed { users, detail, .. } => {
            warn!(?users, %detail, "broker users not provisioned")
        }
        UsersOutcome::Provisioned { retired, .. } if !retired.is_empty() => {
            info!(?retired, "old broker users retired")
        }
        _ => {}
    }
    Some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};

    fn deployment(generation: i64, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: kube::core::ObjectMeta {
                generation: Some(generation),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(2),
                ..Default::default()
            }),
            status: Some(status),
        }
    }

    #[test]
    fn a_stateful_set_updates_from_a_new_spec_until_no_old_revision_is_left() {
        use k8s_openapi::api::apps::v1::StatefulSetStatus;
        let sts = |generation: i64, status: StatefulSetStatus| StatefulSet {
            metadata: kube::core::ObjectMeta {
                generation: Some(generation),
                ..Default::default()
            },
            status: Some(status),
            ..Default::default()
        };
        let settled = StatefulSetStatus {
            observed_generation: Some(2),
            current_revision: Some("rabbitmq-1".into()),
            update_revision: Some("rabbitmq-1".into()),
            replicas: 1,
            ..Default::default()
        };
        assert!(!stateful_set_updating(&sts(2, settled.clone())));
        // The first start: one revision, pods not ready yet, is no update.
        let starting = StatefulSetStatus {
            ready_replicas: Some(0),
            ..settled.clone()
        };
        assert!(!stateful_set_updating(&sts(2, starting)));
        // A new spec the controller has not seen, then pods of the old revision left.
        assert!(stateful_set_updating(&sts(3, settled.clone())));
        let replacing = StatefulSetStatus {
            observed_generation: Some(3),
            update_revision: Some("rabbitmq-2".into()),
            ..settled
        };
        assert!(stateful_set_updating(&sts(3, replacing)));
        assert!(!stateful_set_updating(&StatefulSet::default()));
    }

    #[test]
    fn a_deployment_has_rolled_out_when_only_ready_new_pods_are_left() {
        let done = DeploymentStatus {
            observed_generation: Some(3),
            replicas: Some(2),
            updated_replicas: Some(2),
            ready_replicas: Some(2),
            ..Default::default()
        };
        assert!(deployment_rolled_out(&deployment(3, done.clone())));
        // Not seen the new template yet; an old pod still running; a new one not ready.
        assert!(!deployment_rolled_out(&deployment(4, done.clone())));
        let old_left = DeploymentStatus {
            replicas: Some(3),
            ..done.clone()
        };
        assert!(!deployment_rolled_out(&deployment(3, old_left)));
        let not_ready = DeploymentStatus {
            ready_replicas: Some(1),
            ..done
        };
        assert!(!deployment_rolled_out(&deployment(3, not_ready)));
    }
}
