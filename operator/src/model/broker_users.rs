//! Who connects to a managed broker, and what each may do there (pure).
//!
//! Every workload of a managed broker has its own RabbitMQ user, never the administrator's:
//! one per enabled Koinos service, one per extra service, and the operator's own reader (queue
//! depths for the metrics API and KEDA, `chain.get_head_info` for the status). Each gets only
//! the vhost permissions its AMQP traffic needs, read off what the services declare, publish
//! and consume (docs/protocol.md "AMQP topology", `koinos_mq::topology`):
//!
//! - every client declares both exchanges on connect (configure on `koinos.rpc` and
//!   `koinos.event`);
//! - an RPC caller declares a server-named exclusive reply queue `amq.gen-…` (configure), binds
//!   it to `koinos.rpc` (write on the queue, read on the exchange), consumes it (read) and
//!   publishes requests to `koinos.rpc` (write);
//! - an RPC server declares `koinos.rpc.<service>`, binds it to `koinos.rpc`, consumes it and
//!   publishes its replies to `koinos.rpc` (configure, write and read on its own queue only);
//! - a subscriber binds a server-named queue to `koinos.event` (read on the exchange);
//! - a publisher of broadcasts writes to `koinos.event`, and a topic permission limits the
//!   routing keys it may use to its own topics.
//!
//! RabbitMQ cannot narrow a direct exchange by routing key, so any client may send a request
//! to any service; what it cannot do is consume another service's queue, delete it, or
//! forge another service's broadcasts.

use koinos_mq::topology::{EVENT_EXCHANGE, RPC_EXCHANGE, topic};

use super::cluster::{Amqp, ValidatedCluster};
use super::naming::child_name;
use super::profile::ServiceKind;

/// The key of the operator's own user (its Secret is `<cluster>-amqp-reader`).
pub const READER: &str = "operator";
/// RabbitMQ tag on every user the operator provisions: only users carrying it are ever
/// changed or deleted by the operator (an administrator's own users are left alone).
pub const MANAGED_TAG: &str = "koinos-operator";
/// The names RabbitMQ gives server-named queues (RPC reply queues, broadcast subscriptions).
const SERVER_NAMED: &str = r"amq\.gen-.*";

/// A user's vhost permissions (regular expressions over resource names, as RabbitMQ takes
/// them) and its topic permission on `koinos.event` (over routing keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    pub configure: String,
    pub write: String,
    pub read: String,
    /// Routing keys it may publish on `koinos.event` (`^$`: none).
    pub event_write: String,
}

/// One user of a managed broker: who it is for and where its credentials live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerUser {
    /// The service's component (`chain`, `block-store`), an extra service's name, or
    /// [`READER`]: the prefix of its RabbitMQ username.
    pub key: String,
    /// The generated Secret with `username`, `password` and `url`.
    pub secret: String,
    pub permissions: Permissions,
}

/// The Secret of the user `key` (`<cluster>-<key>-amqp`; the reader's `<cluster>-amqp-reader`).
pub fn user_secret_name(vc: &ValidatedCluster, key: &str) -> String {
    if key == READER {
        child_name(vc, "amqp-reader")
    } else {
        child_name(vc, &format!("{key}-amqp"))
    }
}

/// The users of the cluster's managed broker, in a fixed order (the enabled services, the
/// extra services, the reader); none for an external broker, whose users are its owner's.
pub fn broker_users(vc: &ValidatedCluster) -> Vec<BrokerUser> {
    if !matches!(vc.amqp, Amqp::Managed(_)) {
        return Vec::new();
    }
    let user = |key: &str, permissions| BrokerUser {
        key: key.to_string(),
        secret: user_secret_name(vc, key),
        permissions,
    };
    let services = vc.services.iter().map(|svc| {
        let profile = svc.profile;
        user(
            profile.component,
            service_permissions(profile.rpc_queue, published_topics(profile.kind)),
        )
    });
    let extras = vc
        .extra_services
        .iter()
        .map(|extra| user(&extra.name, service_permissions(Some(&extra.queue), &[])));
    services
        .chain(extras)
        .chain(std::iter::once(user(READER, reader_permissions())))
        .collect()
}

/// The broadcasts a Koinos service publishes, as routing-key patterns (docs/protocol.md's
/// topic table): the chain its blocks, transactions and contract events, mempool its own
/// topics, p2p the gossip status. The others publish none.
pub fn published_topics(kind: ServiceKind) -> &'static [&'static str] {
    match kind {
        ServiceKind::Chain => &[
            r"koinos\.block\..*",
            r"koinos\.transaction\..*",
            r"koinos\.event\..*",
        ],
        ServiceKind::Mempool => &[r"koinos\.mempool\..*"],
        ServiceKind::P2p => &[r"koinos\.gossip\.status"],
        _ => &[],
    }
}

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() && c != '_' && c != '-' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `^(a|b|…)$`, or `^$` (nothing) when empty.
fn any_of(names: &[String]) -> String {
    if names.is_empty() {
        "^$".into()
    } else {
        format!("^({})$", names.join("|"))
    }
}

/// A service that calls RPCs and subscribes to broadcasts, serves the RPC queue `serves` (if
/// any) and publishes the broadcasts `publishes` (routing-key patterns).
pub fn service_permissions(serves: Option<&str>, publishes: &[&str]) -> Permissions {
    let rpc = escape(RPC_EXCHANGE);
    let event = escape(EVENT_EXCHANGE);
    let own: Vec<String> = serves.map(escape).into_iter().collect();
    let with_own = |mut names: Vec<String>| {
        names.extend(own.iter().cloned());
        any_of(&names)
    };
    let mut write = vec![rpc.clone(), SERVER_NAMED.to_string()];
    if !publishes.is_empty() {
        write.push(event.clone());
    }
    Permissions {
        configure: with_own(vec![rpc.clone(), event.clone(), SERVER_NAMED.into()]),
        write: with_own(write),
        read: with_own(vec![rpc, event, SERVER_NAMED.into()]),
        event_write: any_of(&publishes.iter().map(|p| p.to_string()).collect::<Vec<_>>()),
    }
}

/// The operator: reads queue counters (a passive `queue.declare`, which needs no permission)
/// and calls `chain.get_head_info` (an RPC caller's rights); it subscribes to nothing and
/// publishes no broadcast.
pub fn reader_permissions() -> Permissions {
    let rpc = escape(RPC_EXCHANGE);
    Permissions {
        configure: any_of(&[rpc.clone(), escape(EVENT_EXCHANGE), SERVER_NAMED.into()]),
        write: any_of(&[rpc.clone(), SERVER_NAMED.into()]),
        read: any_of(&[rpc, SERVER_NAMED.into()]),
        event_write: "^$".into(),
    }
}

/// The routing keys of the topology's broadcasts, for the tests below and the broker tests.
pub const ALL_TOPICS: [&str; 8] = [
    topic::BLOCK_ACCEPT,
    topic::BLOCK_IRREVERSIBLE,
    topic::BLOCK_FORKS,
    topic::TRANSACTION_ACCEPT,
    topic::TRANSACTION_FAIL,
    topic::MEMPOOL_ACCEPT,
    topic::MEMPOOL_BLOCK_ACCEPTED,
    topic::GOSSIP_STATUS,
];

#[cfg(test)]
#[path = "broker_users_tests.rs"]
mod tests;
