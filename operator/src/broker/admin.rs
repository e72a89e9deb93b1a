//! Rotating a managed broker's administrator (the user of `<cluster>-amqp`) through the
//! management API, in two steps a pass apart, so that nothing is ever left without a user that
//! works: [`make_admin`], as the old administrator, creates the new one (the Secret is switched
//! to it right after); [`retire_admin`], as the new one, deletes the old one once nothing is
//! connected as it. The Erlang cookie is not a user's and stays: changing it would need every
//! node restarted at once.

use super::management::{Management, ManagementError};

/// The tag RabbitMQ's own default user has: every management API call, every vhost.
pub const ADMIN_TAG: &str = "administrator";

/// Creates (or resets) administrator `username` with every permission in `vhost`, calling as
/// the current administrator (`as_current`).
pub async fn make_admin(
    as_current: &Management,
    vhost: &str,
    username: &str,
    password: &str,
) -> Result<(), ManagementError> {
    as_current.put_user(username, password, ADMIN_TAG).await?;
    as_current
        .put_permissions(vhost, username, ".*", ".*", ".*")
        .await
}

/// What became of the old administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retirement {
    /// Deleted now, or already gone.
    Retired,
    /// Still used by this many connections in the vhost: kept for a later pass.
    InUse(usize),
}

/// Deletes the old administrator `old` unless something is connected as it in `vhost`, calling
/// as the new one (`as_new`).
pub async fn retire_admin(
    as_new: &Management,
    vhost: &str,
    old: &str,
) -> Result<Retirement, ManagementError> {
    let connections = as_new.connections_per_user(vhost).await?;
    let in_use = connections.get(old).copied().unwrap_or(0);
    if in_use > 0 {
        return Ok(Retirement::InUse(in_use));
    }
    match as_new.delete_user(old).await {
        Ok(()) => Ok(Retirement::Retired),
        Err(ManagementError::Refused { status, .. }) if status == http::StatusCode::NOT_FOUND => {
            Ok(Retirement::Retired)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod with_rabbitmq;
