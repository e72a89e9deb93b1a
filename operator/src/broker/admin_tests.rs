//! Rotating an administrator in the local RabbitMQ (3.10, 127.0.0.1:5672, management API on
//! 15672, guest/guest; run scripts/ensure-rabbitmq.sh): the new one is made by the old one and
//! can do what the operator does; the old one is kept while connected, then deleted, and is
//! refused from then on, over HTTP and AMQP.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::broker::test_vhost::Vhost;

const MANAGEMENT: &str = "http://127.0.0.1:15672";

fn as_user(username: &str, password: &str) -> Management {
    Management::new(MANAGEMENT, username, password, Duration::from_secs(5))
}

/// The test's administrators (users are broker-wide): deleted on drop.
struct Admins(Vec<String>);

impl Drop for Admins {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.0);
        // A thread with a runtime of its own: drop may run inside the test's runtime.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let guest = as_user("guest", "guest");
                for name in names {
                    let _ = guest.delete_user(&name).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn url(vhost: &Vhost, username: &str, password: &str) -> String {
    format!("amqp://{username}:{password}@127.0.0.1:5672/{}", vhost.0)
}

async fn amqp(url: &str) -> Result<lapin::Connection, lapin::Error> {
    lapin::Connection::connect_uri(koinos_mq::parse_url(url).unwrap(), Default::default()).await
}

/// Waits until the management API lists `count` connections of `user` in the vhost (it lists
/// them a moment after they open or close).
async fn wait_connections(api: &Management, vhost: &Vhost, user: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed = api.connections_per_user(&vhost.0).await.unwrap();
        let now = listed.get(user).copied().unwrap_or(0);
        if now == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{user}: {now} connections, not {count}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_new_admin_is_made_by_the_old_one_which_is_retired_once_unused() {
    let vhost = Vhost::create("admin");
    let tag = std::process::id();
    let (old, old_password) = (format!("koinos-old{tag}"), format!("old-pw-{tag}"));
    let (new, new_password) = (format!("koinos-new{tag}"), format!("new-pw-{tag}"));
    let _admins = Admins(vec![old.clone(), new.clone()]);
    // The administrator RabbitMQ made from the Secret's `default_user` at first boot.
    make_admin(&as_user("guest", "guest"), &vhost.0, &old, &old_password)
        .await
        .unwrap();
    let as_old = as_user(&old, &old_password);

    // Step 1, as the old administrator.
    make_admin(&as_old, &vhost.0, &new, &new_password)
        .await
        .unwrap();
    let as_new = as_user(&new, &new_password);
    let users = as_new
        .users()
        .await
        .expect("the new administrator lists users");
    let made = users.iter().find(|u| u.name == new).unwrap();
    assert!(made.has_tag(ADMIN_TAG) && made.password_is(&new_password));
    as_new
        .put_user(&format!("chain-{tag}"), "x", "koinos-operator")
        .await
        .expect("the new administrator makes users");
    as_new.delete_user(&format!("chain-{tag}")).await.unwrap();
    let connection = amqp(&url(&vhost, &new, &new_password)).await.unwrap();
    connection.close(200, "ok".into()).await.unwrap();

    // Step 2: kept while something is connected as the old one, then deleted.
    let old_session = amqp(&url(&vhost, &old, &old_password)).await.unwrap();
    wait_connections(&as_new, &vhost, &old, 1).await;
    assert_eq!(
        retire_admin(&as_new, &vhost.0, &old).await.unwrap(),
        Retirement::InUse(1)
    );
    assert!(as_old.users().await.is_ok(), "kept: still works");
    old_session.close(200, "done".into()).await.unwrap();
    wait_connections(&as_new, &vhost, &old, 0).await;
    assert_eq!(
        retire_admin(&as_new, &vhost.0, &old).await.unwrap(),
        Retirement::Retired
    );
    match as_old.users().await {
        Err(ManagementError::Refused { status, .. }) => assert_eq!(status, 401),
        other => panic!("the old administrator is refused, not {other:?}"),
    }
    assert!(amqp(&url(&vhost, &old, &old_password)).await.is_err());
    // Already gone: a repeated pass (e.g. from a stale cache) is a no-op.
    assert_eq!(
        retire_admin(&as_new, &vhost.0, &old).await.unwrap(),
        Retirement::Retired
    );
}
