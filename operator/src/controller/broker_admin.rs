//! Rotating a managed broker's administrator, asked for by annotating `<cluster>-amqp` with
//! [`ROTATE_ANNOTATION`] (as Strimzi's `strimzi.io/force-renew`). Before the children are
//! applied, a pass that finds the annotation makes a new administrator as the old one
//! ([`crate::broker::admin::make_admin`]) and hands the new credentials to the build, so the
//! same pass writes them into the Secret (with the old name under `retiring-username`) and then
//! removes the annotation. Later passes delete the old administrator, as the new one, once
//! nothing is connected as it ([`crate::broker::admin::retire_admin`]). The Erlang cookie is
//! kept. The broker is not restarted: its `default_user` only matters to a node's first boot.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use tracing::{info, warn};

use super::apply::new_admin;
use super::build::Generated;
use super::build::rabbitmq::{COMPONENT, ROTATE_ANNOTATION};
use super::stores::ChildStores;
use super::users::management_url;
use crate::broker::admin::{Retirement, make_admin, retire_admin};
use crate::broker::management::Management;
use crate::broker::users::VHOST;
use crate::crd::FIELD_MANAGER;
use crate::model::naming::{amqp_secret_name, child_name};
use crate::model::{Amqp, ValidatedCluster};

const MANAGEMENT_TIMEOUT: Duration = Duration::from_secs(3);

/// What this pass did about the administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminOutcome {
    /// A new administrator was made; the Secret is switched to it by this pass's apply.
    Rotated { from: String, to: String },
    /// The previous administrator was deleted.
    Retired { username: String },
    /// Nothing to do, or waiting (no ready node, the old administrator still connected, a
    /// rotation asked for before the last one's old administrator is gone).
    Unchanged,
}

/// Rotates or retires as the Secret asks, through the management API, updating
/// `generated.amqp`. A failure leaves everything as it was, for the next pass.
pub async fn rotate_admin(
    stores: &ChildStores,
    vc: &ValidatedCluster,
    generated: &mut Generated,
) -> AdminOutcome {
    let Amqp::Managed(_) = &vc.amqp else {
        return AdminOutcome::Unchanged;
    };
    let broker_ready = stores
        .get::<StatefulSet>(&vc.namespace, &child_name(vc, COMPONENT))
        .flatten()
        .and_then(|sts| sts.status.as_ref().and_then(|s| s.ready_replicas))
        .unwrap_or(0)
        > 0;
    let Some(current) = generated.amqp.clone() else {
        return AdminOutcome::Unchanged;
    };
    if !broker_ready {
        return AdminOutcome::Unchanged;
    }
    let api = |username: &str, password: &str| {
        Management::new(&management_url(vc), username, password, MANAGEMENT_TIMEOUT)
    };
    let as_current = api(&current.username, &current.password);
    if let Some(old) = &current.retiring_username {
        // One rotation at a time: a new request waits until this one's old user is gone.
        return match retire_admin(&as_current, VHOST, old).await {
            Ok(Retirement::Retired) => {
                info!(username = %old, "old broker administrator retired");
                if let Some(amqp) = generated.amqp.as_mut() {
                    amqp.retiring_username = None;
                }
                AdminOutcome::Retired {
                    username: old.clone(),
                }
            }
            Ok(Retirement::InUse(connections)) => {
                info!(username = %old, connections, "old broker administrator still in use");
                AdminOutcome::Unchanged
            }
            Err(error) => {
                warn!(%error, username = %old, "old broker administrator not retired");
                AdminOutcome::Unchanged
            }
        };
    }
    if !generated.admin_rotation_requested {
        return AdminOutcome::Unchanged;
    }
    let new = new_admin(current.erlang_cookie.clone());
    let made = make_admin(&as_current, VHOST, &new.username, &new.password).await;
    // The new administrator must work before the Secret names it.
    let works = match made {
        Ok(()) => api(&new.username, &new.password).users().await.map(drop),
        Err(error) => Err(error),
    };
    if let Err(error) = works {
        warn!(%error, "new broker administrator not made: the rotation waits");
        return AdminOutcome::Unchanged;
    }
    info!(from = %current.username, to = %new.username, "broker administrator rotated");
    generated.amqp = Some(crate::controller::build::rabbitmq::AmqpCredentials {
        retiring_username: Some(current.username.clone()),
        ..new.clone()
    });
    AdminOutcome::Rotated {
        from: current.username,
        to: new.username,
    }
}

/// Removes the rotation request from the Secret once it names the new administrator (a merge
/// patch: the annotation is the user's field, which server-side apply leaves alone).
pub async fn clear_rotation_request(client: &Client, vc: &ValidatedCluster) -> kube::Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &vc.namespace);
    let patch = json!({"metadata": {"annotations": {ROTATE_ANNOTATION: null}}});
    secrets
        .patch(
            &amqp_secret_name(vc),
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(&patch),
        )
        .await
        .map(drop)
}
