//! [`ClusterBroker`] on a private vhost of the local RabbitMQ (127.0.0.1:5672; run
//! scripts/ensure-rabbitmq.sh): how failures are classified. The chain's head read from a
//! running devnet of our services is `e2e/tests/chain_head.rs` (it needs the services too).

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::broker::test_vhost::Vhost;
use koinos_mq::topology::queue;

#[tokio::test]
async fn a_broker_without_a_chain_service_is_a_chain_timeout() {
    let vhost = Vhost::create("nochain");
    let timeout = Duration::from_millis(700);
    let broker = ClusterBroker::connect(&vhost.url(), None, &vhost.endpoint(), timeout).unwrap();
    let started = Instant::now();
    let result = broker.head_info().await;
    let elapsed = started.elapsed();
    assert_eq!(result, Err(ReadFailure::ChainTimeout { after: timeout }));
    assert!(
        elapsed >= timeout / 2 && elapsed < timeout * 3,
        "{elapsed:?}"
    );
    assert!(broker.is_connected());
    broker.close().await;
}

#[tokio::test]
async fn wrong_credentials_are_a_broker_failure_without_the_password() {
    let vhost = Vhost::create("badpass");
    let url = format!("amqp://guest:not-the-password@127.0.0.1:5672/{}", vhost.0);
    let broker =
        ClusterBroker::connect(&url, None, &vhost.endpoint(), Duration::from_secs(2)).unwrap();
    let started = Instant::now();
    let failure = broker.head_info().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let ReadFailure::Broker { endpoint, detail } = &failure else {
        panic!("{failure:?}");
    };
    assert_eq!(endpoint, &vhost.endpoint());
    assert!(!failure.detail().contains("not-the-password"), "{detail}");
    assert_eq!(failure.reason(), "BrokerUnavailable");
    assert!(matches!(
        broker.queue_depth(queue::CHAIN).await,
        Err(ReadFailure::Broker { .. })
    ));
    broker.close().await;
}

/// The local broker's TLS listener (127.0.0.1:5671, certificate for `localhost`) and a CA
/// of scripts/ensure-rabbitmq.sh's test directory.
fn tls(vhost: &Vhost, ca: &str) -> (String, String, CaBundle) {
    let dir = std::env::var_os("KOINOS_RABBITMQ_TLS_DIR").map_or_else(
        || "/etc/rabbitmq/koinos-tls".into(),
        std::path::PathBuf::from,
    );
    let ca =
        CaBundle::from_file(&dir.join(ca)).expect("the test CAs: run scripts/ensure-rabbitmq.sh");
    let url = format!("amqps://guest:guest@localhost:5671/{}", vhost.0);
    let endpoint = format!("amqps://localhost:5671/{}", vhost.0);
    (url, endpoint, ca)
}

#[tokio::test]
async fn an_amqps_broker_is_read_with_the_given_ca() {
    let vhost = Vhost::create("amqps");
    vhost.fill("acme.tls", 3).await;
    let (url, endpoint, ca) = tls(&vhost, "ca.pem");
    let broker =
        ClusterBroker::connect(&url, Some(&ca), &endpoint, Duration::from_secs(5)).unwrap();
    assert_eq!(broker.queue_depth("acme.tls").await, Ok(3));
    broker.close().await;
}

#[tokio::test]
async fn an_amqps_broker_signed_by_another_ca_is_a_broker_failure_naming_it() {
    let vhost = Vhost::create("amqps-wrong-ca");
    let (url, endpoint, ca) = tls(&vhost, "other-ca.pem");
    let broker =
        ClusterBroker::connect(&url, Some(&ca), &endpoint, Duration::from_secs(5)).unwrap();
    let failure = broker.queue_depth("acme.tls").await.unwrap_err();
    let ReadFailure::Broker {
        endpoint: named,
        detail,
    } = &failure
    else {
        panic!("{failure:?}");
    };
    assert_eq!(named, &endpoint);
    assert!(detail.contains("UnknownIssuer"), "{detail}");
    broker.close().await;
}
