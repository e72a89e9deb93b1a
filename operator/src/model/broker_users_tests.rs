use super::*;
use crate::test_support::{DEVNET, EVERY_SERVICE, EXTERNAL_BROKER, validated};

/// The table the operator README shows, pinned.
fn table(users: &[BrokerUser]) -> String {
    users
        .iter()
        .map(|u| {
            let p = &u.permissions;
            format!(
                "{} ({})\n  configure {}\n  write     {}\n  read      {}\n  koinos.event routing keys {}\n",
                u.key, u.secret, p.configure, p.write, p.read, p.event_write
            )
        })
        .collect()
}

#[test]
fn every_workload_has_its_own_user_and_the_operator_one_more() {
    let vc = validated(EVERY_SERVICE);
    let users = broker_users(&vc);
    let keys: Vec<_> = users.iter().map(|u| u.key.as_str()).collect();
    let mut expected: Vec<_> = vc.services.iter().map(|s| s.profile.component).collect();
    expected.extend(["indexer", READER]);
    assert_eq!(keys, expected);
    assert_eq!(
        users.len(),
        12,
        "ten Koinos services, the extra one, the reader"
    );
    insta::assert_snapshot!(table(&users));
}

#[test]
fn an_external_broker_has_no_users_of_ours() {
    assert!(broker_users(&validated(EXTERNAL_BROKER)).is_empty());
}

#[test]
fn secrets_are_named_per_workload_and_never_the_administrators() {
    let vc = validated(DEVNET);
    let users = broker_users(&vc);
    let chain = users.iter().find(|u| u.key == "chain").unwrap();
    assert_eq!(chain.secret, "devnet-chain-amqp");
    let reader = users.iter().find(|u| u.key == READER).unwrap();
    assert_eq!(reader.secret, "devnet-amqp-reader");
    assert!(users.iter().all(|u| u.secret != "devnet-amqp"));
}

#[test]
fn only_a_server_may_read_its_queue_and_only_publishers_write_events() {
    let jsonrpc = service_permissions(None, &[]);
    assert!(!jsonrpc.read.contains("koinos\\.rpc\\.chain"));
    assert!(!jsonrpc.write.contains("koinos\\.event"));
    assert_eq!(jsonrpc.event_write, "^$");
    let chain = service_permissions(
        Some(koinos_mq::topology::queue::CHAIN),
        published_topics(ServiceKind::Chain),
    );
    assert!(chain.read.contains("|koinos\\.rpc\\.chain)$"));
    assert!(chain.write.contains("koinos\\.event"));
    // An extra service's queue name is taken literally, dots and all.
    let extra = service_permissions(Some("acme.indexer"), &[]);
    assert!(extra.configure.ends_with("|acme\\.indexer)$"));
}
