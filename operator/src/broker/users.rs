//! Keeping a managed broker's users as [`crate::model::broker_users`] says, through the
//! management API ([`super::management`]).
//!
//! Each pass: list the users and the vhost's permissions (three GETs), then write only what
//! differs: a missing user, a password that does not match its Secret (checked against the
//! broker's hash, so nothing is re-sent in steady state), permissions that drifted. A user the
//! operator made (tag [`MANAGED_TAG`]) that no Secret names any more is retired (deleted) only
//! when its workload has finished rolling out and nothing is connected as it: that is how a
//! rotation never cuts off a pod that still works with the old password.

use std::collections::BTreeSet;

use koinos_mq::topology::EVENT_EXCHANGE;

use super::management::{LivePermissions, LiveTopicPermissions, Management, ManagementError};
use crate::model::broker_users::{MANAGED_TAG, Permissions};

/// The vhost of a managed broker.
pub const VHOST: &str = "/";

/// One user to have: the model's permissions and the credentials in its Secret.
#[derive(Clone)]
pub struct Account {
    /// [`crate::model::broker_users::BrokerUser::key`].
    pub key: String,
    pub username: String,
    pub password: String,
    pub permissions: Permissions,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("key", &self.key)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What became of the users this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsersOutcome {
    /// Every user is in place. `retired`: old users deleted this pass; `retiring`: old users
    /// kept because a workload still rolls out or something is still connected as them.
    Provisioned {
        retired: Vec<String>,
        retiring: Vec<String>,
    },
    /// No broker node is ready: nothing was tried.
    BrokerNotReady,
    /// These users (keys) could not be provisioned; `unreachable` when the API did not
    /// answer (rather than refusing); `detail` is for logs and Events only.
    Failed {
        users: Vec<String>,
        unreachable: bool,
        detail: String,
    },
}

impl UsersOutcome {
    /// The `BrokerReady` condition's reason and stable message when users are missing.
    pub fn failure(&self) -> Option<(&'static str, String)> {
        let Self::Failed {
            users, unreachable, ..
        } = self
        else {
            return None;
        };
        let why = if *unreachable {
            "its management API did not answer"
        } else {
            "its management API refused"
        };
        Some((
            "BrokerUsersNotProvisioned",
            format!(
                "the broker users of {} could not be provisioned: {why}",
                users.join(", ")
            ),
        ))
    }
}

/// The username's key: `chain-1a2b3c4d` -> `chain` (usernames are `<key>-<8 characters>`).
pub fn key_of(username: &str) -> &str {
    username.rsplit_once('-').map_or(username, |(key, _)| key)
}

fn failed(users: Vec<String>, error: &ManagementError) -> UsersOutcome {
    UsersOutcome::Failed {
        users,
        unreachable: matches!(error, ManagementError::Unreachable { .. }),
        detail: error.to_string(),
    }
}

async fn ensure(
    api: &Management,
    vhost: &str,
    account: &Account,
    live_user: Option<&super::management::LiveUser>,
    live_permissions: &[LivePermissions],
    live_topics: &[LiveTopicPermissions],
) -> Result<(), ManagementError> {
    let name = &account.username;
    let p = &account.permissions;
    if !live_user.is_some_and(|u| u.has_tag(MANAGED_TAG) && u.password_is(&account.password)) {
        api.put_user(name, &account.password, MANAGED_TAG).await?;
    }
    let want = LivePermissions {
        user: name.clone(),
        configure: p.configure.clone(),
        write: p.write.clone(),
        read: p.read.clone(),
    };
    if !live_permissions.contains(&want) {
        api.put_permissions(vhost, name, &p.configure, &p.write, &p.read)
            .await?;
    }
    let want = LiveTopicPermissions {
        user: name.clone(),
        exchange: EVENT_EXCHANGE.into(),
        write: p.event_write.clone(),
        read: ".*".into(),
    };
    if !live_topics.contains(&want) {
        api.put_topic_permissions(vhost, name, EVENT_EXCHANGE, &p.event_write, ".*")
            .await?;
    }
    Ok(())
}

/// Makes the broker's users `accounts` (permissions in `vhost`: [`VHOST`] on a managed broker)
/// and retires the operator's other users whose key
/// `settled` says has finished rolling out (and that nothing is connected as).
pub async fn provision(
    api: &Management,
    vhost: &str,
    accounts: &[Account],
    settled: impl Fn(&str) -> bool,
) -> UsersOutcome {
    let keys = || accounts.iter().map(|a| a.key.clone()).collect::<Vec<_>>();
    let listed = tokio::try_join!(
        api.users(),
        api.permissions(vhost),
        api.topic_permissions(vhost)
    );
    let (users, permissions, topics) = match listed {
        Ok(listed) => listed,
        Err(error) => return failed(keys(), &error),
    };
    let mut missing = Vec::new();
    let mut first_error = None;
    for account in accounts {
        let live = users.iter().find(|u| u.name == account.username);
        if let Err(error) = ensure(api, vhost, account, live, &permissions, &topics).await {
            missing.push(account.key.clone());
            first_error.get_or_insert(error);
        }
    }
    if let Some(error) = first_error {
        return failed(missing, &error);
    }

    let current: BTreeSet<&str> = accounts.iter().map(|a| a.username.as_str()).collect();
    let old: Vec<&str> = users
        .iter()
        .filter(|u| u.has_tag(MANAGED_TAG) && !current.contains(u.name.as_str()))
        .map(|u| u.name.as_str())
        .collect();
    let mut retired = Vec::new();
    let mut retiring = Vec::new();
    if !old.is_empty() {
        // Only when needed: the connection list is the one call that grows with the cluster.
        let connections = api.connections_per_user(vhost).await;
        for name in old {
            let idle = connections
                .as_ref()
                .is_ok_and(|c| c.get(name).copied().unwrap_or(0) == 0);
            if idle && settled(key_of(name)) && api.delete_user(name).await.is_ok() {
                retired.push(name.to_string());
            } else {
                retiring.push(name.to_string());
            }
        }
    }
    UsersOutcome::Provisioned { retired, retiring }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_names_its_key() {
        assert_eq!(key_of("block-store-1a2b3c4d"), "block-store");
        assert_eq!(key_of("operator-zzzzzzzz"), "operator");
    }

    #[test]
    fn a_failure_names_the_users_in_a_stable_message() {
        let outcome = UsersOutcome::Failed {
            users: vec!["chain".into(), "indexer".into()],
            unreachable: true,
            detail: "GET /api/users: connection refused (varies)".into(),
        };
        assert_eq!(
            outcome.failure(),
            Some((
                "BrokerUsersNotProvisioned",
                "the broker users of chain, indexer could not be provisioned: its management \
                 API did not answer"
                    .into()
            ))
        );
        assert_eq!(UsersOutcome::BrokerNotReady.failure(), None);
    }
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod with_rabbitmq;
