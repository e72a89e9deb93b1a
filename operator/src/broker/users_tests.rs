//! The users of [`crate::model::broker_users`] provisioned by [`provision`] in the local
//! RabbitMQ (127.0.0.1:5672, management API on 15672, guest/guest; run
//! scripts/ensure-rabbitmq.sh), each then doing over AMQP what its service does (declare,
//! bind, consume, reply, publish) and refused what it must not. The real services running as
//! these users are the real-pods tier (e2e/node).

use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use tokio::time::Instant;

use super::*;
use crate::broker::test_vhost::Vhost;
use crate::model::ServiceKind;
use crate::model::broker_users::{ALL_TOPICS, BrokerUser, READER, broker_users, published_topics};
use crate::test_support::EVERY_SERVICE;
use koinos_mq::topology::{EVENT_EXCHANGE, RPC_EXCHANGE, queue};

const MANAGEMENT: &str = "http://127.0.0.1:15672";

fn management() -> Management {
    Management::new(MANAGEMENT, "guest", "guest", Duration::from_secs(5))
}

/// The test's users (RabbitMQ users are broker-wide): deleted on drop.
struct Users {
    accounts: Vec<Account>,
    extra: Vec<String>,
}

impl Users {
    fn new(users: &[BrokerUser], tag: &str) -> Self {
        let accounts = users
            .iter()
            .map(|u| Account {
                key: u.key.clone(),
                username: format!("{}-{tag}", u.key),
                password: format!("pw-{}-{tag}", u.key),
                permissions: u.permissions.clone(),
            })
            .collect();
        Self {
            accounts,
            extra: Vec::new(),
        }
    }

    fn get(&self, key: &str) -> &Account {
        self.accounts.iter().find(|a| a.key == key).unwrap()
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        let names: Vec<String> = self
            .accounts
            .iter()
            .map(|a| a.username.clone())
            .chain(self.extra.iter().cloned())
            .collect();
        // A thread with a runtime of its own: drop may run inside the test's runtime.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let api = management();
                for name in names {
                    let _ = api.delete_user(&name).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Eight characters unique to this run (usernames are `<key>-<8 characters>`).
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:08x}", (std::process::id() << 16) ^ nanos)
}

async fn connect(vhost: &Vhost, account: &Account) -> Connection {
    let url = format!(
        "amqp://{}:{}@127.0.0.1:5672/{}",
        account.username, account.password, vhost.0
    );
    let uri = koinos_mq::parse_url(&url).unwrap();
    Connection::connect_uri(uri, Default::default())
        .await
        .unwrap_or_else(|e| panic!("{} connects: {e}", account.key))
}

fn refused(result: Result<(), lapin::Error>, what: &str) {
    match result {
        Ok(()) => panic!("{what}: allowed, should be refused"),
        Err(error) => {
            let text = format!("{error:?}");
            assert!(
                text.contains("ACCESS_REFUSED") || text.contains("403"),
                "{what}: {text}"
            );
        }
    }
}

async fn declare_exchanges(channel: &Channel) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let none = FieldTable::default;
    channel
        .exchange_declare(RPC_EXCHANGE.into(), ExchangeKind::Direct, durable, none())
        .await?;
    channel
        .exchange_declare(EVENT_EXCHANGE.into(), ExchangeKind::Topic, durable, none())
        .await
}

/// A server-named exclusive queue bound to `exchange` under `keys` (its own name when empty),
/// consumed: an RPC reply queue or a broadcast subscription.
async fn private_queue(
    channel: &Channel,
    exchange: &str,
    keys: &[&str],
) -> Result<(), lapin::Error> {
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let declared = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await?;
    let name = declared.name().as_str().to_string();
    let own = [name.as_str()];
    let keys = if keys.is_empty() { &own[..] } else { keys };
    for key in keys {
        bind(channel, &name, exchange, key).await?;
    }
    consume(channel, &name).await
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    key: &str,
) -> Result<(), lapin::Error> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

async fn consume(channel: &Channel, queue: &str) -> Result<(), lapin::Error> {
    channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map(drop)
}

/// A confirmed publish: a refused one closes the channel, which fails the confirm.
async fn publish(channel: &Channel, exchange: &str, key: &str) -> Result<(), lapin::Error> {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    channel
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions::default(),
            b"message",
            BasicProperties::default(),
        )
        .await?
        .await
        .map(drop)
}

/// What `user` does as its service: exchanges, a reply queue, its RPC queue (declared, bound,
/// consumed, a reply published), subscriptions, a request, its own broadcasts.
async fn behave(vhost: &Vhost, account: &Account, serves: Option<&str>, topics: &[&str]) {
    let conn = connect(vhost, account).await;
    let key = &account.key;
    let channel = conn.create_channel().await.unwrap();
    declare_exchanges(&channel)
        .await
        .unwrap_or_else(|e| panic!("{key} exchanges: {e}"));
    private_queue(&channel, RPC_EXCHANGE, &[])
        .await
        .unwrap_or_else(|e| panic!("{key} reply queue: {e}"));
    if let Some(queue) = serves {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("{key} declares {queue}: {e}"));
        bind(&channel, queue, RPC_EXCHANGE, queue)
            .await
            .unwrap_or_else(|e| panic!("{key} binds {queue}: {e}"));
        consume(&channel, queue)
            .await
            .unwrap_or_else(|e| panic!("{key} consumes {queue}: {e}"));
    }
    private_queue(&channel, EVENT_EXCHANGE, &ALL_TOPICS)
        .await
        .unwrap_or_else(|e| panic!("{key} subscribes: {e}"));
    let requests = conn.create_channel().await.unwrap();
    publish(&requests, RPC_EXCHANGE, queue::CHAIN)
        .await
        .unwrap_or_else(|e| panic!("{key} sends a request (or a reply) on koinos.rpc: {e}"));
    for topic in topics {
        publish(&requests, EVENT_EXCHANGE, topic)
            .await
            .unwrap_or_else(|e| panic!("{key} publishes {topic}: {e}"));
    }
    conn.close(200, "done".into()).await.unwrap();
}

/// Opens a channel of `account`'s, runs `op` on it: refused, as `what`.
async fn must_refuse<F, Fut>(vhost: &Vhost, account: &Account, what: &str, op: F)
where
    F: FnOnce(Channel) -> Fut,
    Fut: std::future::Future<Output = Result<(), lapin::Error>>,
{
    let conn = connect(vhost, account).await;
    let channel = conn.create_channel().await.unwrap();
    refused(op(channel).await, &format!("{} {what}", account.key));
    let _ = conn.close(200, "done".into()).await;
}

/// The topics of `kind` as concrete routing keys (the table's patterns, exercised).
fn concrete(kind: Option<ServiceKind>) -> Vec<&'static str> {
    let patterns: Vec<regex::Regex> = kind
        .map(published_topics)
        .unwrap_or(&[])
        .iter()
        .map(|p| regex::Regex::new(&format!("^{p}$")).unwrap())
        .collect();
    ALL_TOPICS
        .into_iter()
        .filter(|t| patterns.iter().any(|p| p.is_match(t)))
        .collect()
}

#[tokio::test]
async fn each_user_does_what_its_service_does_and_is_refused_the_rest() {
    let vhost = Vhost::create("users");
    let api = management();
    let vc = crate::test_support::validated(EVERY_SERVICE);
    let users = Users::new(&broker_users(&vc), &run_tag());
    // Other tests' users share the broker: retire none of them here.
    let outcome = provision(&api, &vhost.0, &users.accounts, |_| false).await;
    assert!(
        matches!(outcome, UsersOutcome::Provisioned { .. }),
        "{outcome:?}"
    );

    for svc in &vc.services {
        let account = users.get(svc.profile.component);
        let topics = concrete(Some(svc.kind()));
        behave(&vhost, account, svc.profile.rpc_queue, &topics).await;
    }
    behave(&vhost, users.get("indexer"), Some("acme.indexer"), &[]).await;

    // The operator: a passive declare reads any RPC queue's counters, a chain RPC is a
    // request plus a reply queue; nothing else.
    let reader = users.get(READER);
    {
        let conn = connect(&vhost, reader).await;
        let channel = conn.create_channel().await.unwrap();
        declare_exchanges(&channel).await.unwrap();
        private_queue(&channel, RPC_EXCHANGE, &[]).await.unwrap();
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue::BLOCK_STORE.into(), passive, FieldTable::default())
            .await
            .expect("the reader reads block_store's queue depth");
        publish(&channel, RPC_EXCHANGE, queue::CHAIN)
            .await
            .expect("the reader calls the chain");
        conn.close(200, "done".into()).await.unwrap();
    }
    must_refuse(
        &vhost,
        reader,
        "consumes koinos.rpc.block_store",
        |c| async move { consume(&c, queue::BLOCK_STORE).await },
    )
    .await;
    must_refuse(&vhost, reader, "publishes a broadcast", |c| async move {
        publish(&c, EVENT_EXCHANGE, koinos_mq::topology::topic::BLOCK_ACCEPT).await
    })
    .await;
    must_refuse(&vhost, reader, "subscribes to broadcasts", |c| async move {
        private_queue(&c, EVENT_EXCHANGE, &ALL_TOPICS).await
    })
    .await;

    // Nobody consumes, binds or deletes another service's queue.
    let jsonrpc = users.get("jsonrpc");
    must_refuse(
        &vhost,
        jsonrpc,
        "consumes koinos.rpc.chain",
        |c| async move { consume(&c, queue::CHAIN).await },
    )
    .await;
    must_refuse(
        &vhost,
        users.get("block-store"),
        "consumes koinos.rpc.chain",
        |c| async move { consume(&c, queue::CHAIN).await },
    )
    .await;
    must_refuse(
        &vhost,
        users.get("chain"),
        "deletes koinos.rpc.mempool",
        |c| async move {
            c.queue_delete(queue::MEMPOOL.into(), QueueDeleteOptions::default())
                .await
                .map(drop)
        },
    )
    .await;
    must_refuse(
        &vhost,
        users.get("indexer"),
        "consumes koinos.rpc.block_store",
        |c| async move { consume(&c, queue::BLOCK_STORE).await },
    )
    .await;
    must_refuse(
        &vhost,
        users.get("mempool"),
        "declares koinos.rpc.chain",
        |c| async move {
            let durable = QueueDeclareOptions {
                durable: true,
                ..Default::default()
            };
            c.queue_declare(queue::CHAIN.into(), durable, FieldTable::default())
                .await
                .map(drop)
        },
    )
    .await;
    // Only a broadcast's publisher may publish it.
    for (key, topic) in [
        ("jsonrpc", "koinos.block.accept"),
        ("block-producer", "koinos.block.accept"),
        ("mempool", "koinos.block.accept"),
        ("p2p", "koinos.transaction.accept"),
        ("chain", "koinos.gossip.status"),
        ("indexer", "koinos.mempool.accept"),
    ] {
        must_refuse(
            &vhost,
            users.get(key),
            &format!("publishes {topic}"),
            |c| async move { publish(&c, EVENT_EXCHANGE, topic).await },
        )
        .await;
    }
}

/// Waits until the management API lists (or no longer lists) a connection of `user`.
async fn wait_connected(api: &Management, vhost: &Vhost, user: &str, connected: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let count = api.connections_per_user(&vhost.0).await.unwrap();
        if (count.get(user).copied().unwrap_or(0) > 0) == connected {
            return;
        }
        assert!(Instant::now() < deadline, "{user} connected: {count:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_rotated_user_is_retired_only_once_rolled_out_and_idle_and_no_message_is_lost() {
    let vhost = Vhost::create("rotation");
    let api = management();
    let vc = crate::test_support::validated(crate::test_support::DEVNET);
    // Under a key of its own (tests share the broker's users): mempool's permissions.
    let mut mempool = broker_users(&vc)
        .into_iter()
        .find(|u| u.key == "mempool")
        .unwrap();
    mempool.key = "rotating".into();
    let old = Users::new(std::slice::from_ref(&mempool), &run_tag());
    let new = Users::new(std::slice::from_ref(&mempool), "rotated1");
    let ours = |key: &str| key == "rotating";
    let outcome = provision(&api, &vhost.0, &old.accounts, |_| false).await;
    assert!(
        matches!(outcome, UsersOutcome::Provisioned { .. }),
        "{outcome:?}"
    );
    let old_name = old.accounts[0].username.clone();
    let retired = |outcome: &UsersOutcome| match outcome {
        UsersOutcome::Provisioned { retired, retiring } => {
            (retired.contains(&old_name), retiring.contains(&old_name))
        }
        other => panic!("{other:?}"),
    };

    // The old pod: serving koinos.rpc.mempool; a request waits in the durable queue.
    let old_pod = connect(&vhost, &old.accounts[0]).await;
    let channel = old_pod.create_channel().await.unwrap();
    declare_exchanges(&channel).await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue::MEMPOOL.into(), durable, FieldTable::default())
        .await
        .unwrap();
    bind(&channel, queue::MEMPOOL, RPC_EXCHANGE, queue::MEMPOOL)
        .await
        .unwrap();
    publish(&channel, RPC_EXCHANGE, queue::MEMPOOL)
        .await
        .unwrap();
    wait_connected(&api, &vhost, &old.accounts[0].username, true).await;

    // Rotation: the new user exists at once; the old one stays while its pod is connected,
    // and while its workload has not rolled out.
    let outcome = provision(&api, &vhost.0, &new.accounts, ours).await;
    assert_eq!(retired(&outcome), (false, true), "kept while connected");
    old_pod.close(200, "rolled".into()).await.unwrap();
    wait_connected(&api, &vhost, &old_name, false).await;
    let outcome = provision(&api, &vhost.0, &new.accounts, |_| false).await;
    assert_eq!(
        retired(&outcome),
        (false, true),
        "kept until the workload rolled out"
    );
    let outcome = provision(&api, &vhost.0, &new.accounts, ours).await;
    assert_eq!(
        retired(&outcome),
        (true, false),
        "retired once rolled out and idle"
    );
    assert!(
        api.users()
            .await
            .unwrap()
            .iter()
            .all(|u| u.name != old_name),
        "the old user is gone"
    );

    // The new pod finds the request the old one left.
    let new_pod = connect(&vhost, &new.accounts[0]).await;
    let channel = new_pod.create_channel().await.unwrap();
    let message = channel
        .basic_get(queue::MEMPOOL.into(), Default::default())
        .await
        .unwrap();
    assert!(message.is_some(), "the request survived the rotation");
    new_pod.close(200, "done".into()).await.unwrap();

    // A later pass finds nothing of ours to retire.
    let outcome = provision(&api, &vhost.0, &new.accounts, ours).await;
    assert_eq!(retired(&outcome), (false, false));
}

#[tokio::test]
async fn an_unreachable_api_names_every_user() {
    let api = Management::new(
        "http://127.0.0.1:1",
        "guest",
        "guest",
        Duration::from_secs(2),
    );
    let account = Account {
        key: "chain".into(),
        username: "chain-x".into(),
        password: "x".into(),
        permissions: crate::model::broker_users::reader_permissions(),
    };
    let outcome = provision(&api, "/", &[account], |_| true).await;
    assert_eq!(
        outcome.failure().unwrap().1,
        "the broker users of chain could not be provisioned: its management API did not answer"
    );
}
