//! A managed broker's users as Kubernetes sees them: one generated Secret per user (`username`,
//! `password`, `url`), and the pod-template annotation naming the user a workload runs as, so
//! a new user (a rotation) rolls the workload. The users and their permissions are
//! [`crate::model::broker_users`]; the operator provisions them in RabbitMQ through the
//! management API ([`crate::broker::users`]).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PodTemplateSpec, Secret};

use super::meta::{LABEL_GENERATED, object_meta};
use super::rabbitmq::{COMPONENT, client_url};
use crate::model::ValidatedCluster;
use crate::model::broker_users::BrokerUser;
use crate::model::naming::{AMQP_PASSWORD_KEY, AMQP_URL_KEY, AMQP_USERNAME_KEY};

/// Pod-template annotation: the broker user the pods connect as. Its Secret is read through
/// env vars, which a running pod never re-reads, so a new user must roll the pods.
pub const ANNOTATION_AMQP_USER: &str = crate::model::naming::AMQP_USER_ANNOTATION;

/// One user's credentials, generated once by the apply step and read back from its Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The user's Secret. Deleting it rotates the user: the operator makes a new one (new name,
/// new password), and removes the old user from RabbitMQ once nothing is connected as it.
pub fn build_user_secret(
    vc: &ValidatedCluster,
    user: &BrokerUser,
    credentials: &UserCredentials,
) -> Secret {
    let mut metadata = object_meta(vc, user.secret.clone(), COMPONENT);
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_GENERATED.into(), "true".into());
    let data = [
        (AMQP_USERNAME_KEY, credentials.username.clone()),
        (AMQP_PASSWORD_KEY, credentials.password.clone()),
        (
            AMQP_URL_KEY,
            client_url(vc, &credentials.username, &credentials.password),
        ),
    ];
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Default::default()
    }
}

fn annotate(template: &mut PodTemplateSpec, username: &str) {
    template
        .metadata
        .get_or_insert_with(Default::default)
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(ANNOTATION_AMQP_USER.into(), username.into());
}

/// Names the user on a StatefulSet's pod template.
pub fn annotate_stateful_set(sts: &mut StatefulSet, username: &str) {
    if let Some(spec) = sts.spec.as_mut() {
        annotate(&mut spec.template, username);
    }
}

/// Names the user on a Deployment's pod template.
pub fn annotate_deployment(deployment: &mut Deployment, username: &str) {
    if let Some(spec) = deployment.spec.as_mut() {
        annotate(&mut spec.template, username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::build::build;
    use crate::model::broker_users::{READER, broker_users};
    use crate::test_support::{DEVNET, EXTERNAL_BROKER, generated, validated};

    fn secret_text(secret: &Secret, key: &str) -> String {
        String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
    }

    #[test]
    fn each_workload_reads_its_own_users_secret_and_names_the_user() {
        let vc = validated(DEVNET);
        let desired = build(&vc, &generated());
        for user in broker_users(&vc) {
            let secret = desired
                .secrets
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(&user.secret))
                .unwrap_or_else(|| panic!("Secret {} is built", user.secret));
            let username = secret_text(secret, AMQP_USERNAME_KEY);
            assert!(secret_text(secret, AMQP_URL_KEY).starts_with(&format!(
                "amqp://{username}:{}@devnet-rabbitmq.{}.svc:5672/",
                secret_text(secret, AMQP_PASSWORD_KEY),
                vc.namespace
            )));
            if user.key == READER {
                continue;
            }
            let sts = desired
                .stateful_sets
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(&format!("devnet-{}", user.key)));
            let template = match sts {
                Some(sts) => &sts.spec.as_ref().unwrap().template,
                None => {
                    let deployment = desired
                        .deployments
                        .iter()
                        .find(|d| {
                            d.metadata.name.as_deref() == Some(&format!("devnet-{}", user.key))
                        })
                        .unwrap();
                    &deployment.spec.as_ref().unwrap().template
                }
            };
            let annotations = template
                .metadata
                .as_ref()
                .unwrap()
                .annotations
                .as_ref()
                .unwrap();
            assert_eq!(annotations[ANNOTATION_AMQP_USER], username, "{}", user.key);
            let env = template.spec.as_ref().unwrap().containers[0]
                .env
                .as_ref()
                .unwrap();
            let url = env.iter().find(|e| e.name == "KOINOS_AMQP_URL").unwrap();
            let from = url
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap();
            assert_eq!(
                (from.name.as_str(), from.key.as_str()),
                (user.secret.as_str(), "url")
            );
        }
    }

    #[test]
    fn a_new_user_changes_the_pod_template_so_the_workload_rolls() {
        let vc = validated(DEVNET);
        let before = build(&vc, &generated());
        let mut rotated = generated();
        rotated.broker_users.insert(
            "mempool".into(),
            UserCredentials {
                username: "mempool-rotated1".into(),
                password: "another-password".into(),
            },
        );
        let after = build(&vc, &rotated);
        let template = |d: &crate::controller::build::Desired, name: &str| {
            d.deployments
                .iter()
                .find(|x| x.metadata.name.as_deref() == Some(name))
                .unwrap()
                .spec
                .clone()
                .unwrap()
                .template
        };
        assert_ne!(
            template(&before, "devnet-mempool"),
            template(&after, "devnet-mempool")
        );
        assert_eq!(
            template(&before, "devnet-jsonrpc"),
            template(&after, "devnet-jsonrpc")
        );
    }

    #[test]
    fn a_read_back_users_secret_is_never_applied_again() {
        let vc = validated(DEVNET);
        let mut read_back = generated();
        read_back.new_users.clear();
        let desired = build(&vc, &read_back);
        let users = broker_users(&vc);
        assert!(
            desired.secrets.iter().all(|s| users
                .iter()
                .all(|u| s.metadata.name.as_ref() != Some(&u.secret))),
            "a deleted Secret (a rotation) must not come back from a stale read"
        );
        assert!(desired.pending_generated.is_empty());
        let chain = desired
            .stateful_sets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some("devnet-chain"))
            .unwrap();
        let template = &chain.spec.as_ref().unwrap().template;
        let annotations = template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap();
        assert_eq!(annotations[ANNOTATION_AMQP_USER], "chain-test0001");
    }

    #[test]
    fn an_external_broker_gets_no_user_secrets_or_annotations() {
        let vc = validated(EXTERNAL_BROKER);
        let desired = build(&vc, &generated());
        assert!(desired.secrets.iter().all(|s| {
            !s.metadata.name.as_deref().unwrap().ends_with("-amqp")
                && !s
                    .metadata
                    .name
                    .as_deref()
                    .unwrap()
                    .ends_with("-amqp-reader")
        }));
        let annotated = desired.deployments.iter().any(|d| {
            d.spec
                .as_ref()
                .unwrap()
                .template
                .metadata
                .as_ref()
                .unwrap()
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(ANNOTATION_AMQP_USER))
        });
        assert!(!annotated);
    }
}
