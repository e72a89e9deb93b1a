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
    let broker = ClusterBroker::connect(&vhost.url(), &vhost.endpoint(), timeout).unwrap();
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
    let broker = ClusterBroker::connect(&url, &vhost.endpoint(), Duration::from_secs(2)).unwrap();
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
