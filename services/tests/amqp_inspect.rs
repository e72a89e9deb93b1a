//! `Connection::queue_stats` and `Connection::last_error` against the real broker.

mod amqp_support;

use amqp_support::{connect, unique};
use koinos_services::mq::{Connection, QueueStats, parse_url};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use std::time::Duration;

/// A lapin channel of its own, to set up queues the way a service would.
async fn raw_channel() -> (lapin::Connection, lapin::Channel) {
    let uri = parse_url(amqp_support::BROKER).unwrap();
    let conn = lapin::Connection::connect_uri(uri, Default::default())
        .await
        .expect("RabbitMQ on 127.0.0.1:5672 (run scripts/ensure-rabbitmq.sh)");
    let channel = conn.create_channel().await.expect("channel");
    (conn, channel)
}

#[tokio::test]
async fn queue_stats_counts_ready_messages_and_consumers() {
    let conn = connect().await;
    let (_raw, channel) = raw_channel().await;
    let queue = unique("inspect");
    let mut arguments = FieldTable::default();
    // The broker drops the queue a minute after the test, even if it panics.
    arguments.insert("x-expires".into(), AMQPValue::LongUInt(60_000));
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            arguments,
        )
        .await
        .unwrap();
    assert_eq!(
        conn.queue_stats(&queue).await.unwrap(),
        Some(QueueStats {
            ready: 0,
            consumers: 0
        })
    );
    for i in 0..7u8 {
        channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &[i],
                BasicProperties::default(),
            )
            .await
            .unwrap();
    }
    // Publishes are asynchronous: wait until the broker has queued all seven.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let stats = conn
            .queue_stats(&queue)
            .await
            .unwrap()
            .expect("queue exists");
        if stats.ready == 7 || tokio::time::Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stats.ready, 7);
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    conn.close().await;
}

#[tokio::test]
async fn a_missing_queue_is_none_and_the_connection_stays_usable() {
    let conn = connect().await;
    let missing = unique("never_declared");
    assert_eq!(conn.queue_stats(&missing).await.unwrap(), None);
    // The 404 closed only that call's channel.
    assert_eq!(conn.queue_stats(&missing).await.unwrap(), None);
    assert!(conn.is_connected());
    assert_eq!(conn.last_error(), None);
    conn.close().await;
}

#[tokio::test]
async fn last_error_says_why_a_broker_is_unreachable() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let conn = Connection::connect_supervised(&format!("amqp://u:p@127.0.0.1:{port}/")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let error = loop {
        if let Some(error) = conn.last_error() {
            break error;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no connection error recorded within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(!conn.is_connected());
    conn.close().await;
}
