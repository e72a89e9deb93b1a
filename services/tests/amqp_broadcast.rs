//! Broadcasts over a real broker: fan-out, wildcards, content-type filtering.

mod amqp_support;

use amqp_support::{connect, unique};
use koinos_services::mq::{Broadcaster, Subscriber};
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(10);

async fn next(subscriber: &mut Subscriber) -> Option<(String, Vec<u8>)> {
    tokio::time::timeout(Duration::from_millis(1500), subscriber.recv())
        .await
        .ok()
        .flatten()
        .map(|b| (b.topic, b.body))
}

#[tokio::test]
async fn one_broadcast_reaches_three_subscribers() {
    let topic = format!("{}.block.accept", unique("fanout"));
    let mut conns = Vec::new();
    let mut subscribers = Vec::new();
    for _ in 0..3 {
        let conn = connect().await;
        let subscriber = Subscriber::subscribe(&conn, &[&topic]);
        subscriber.wait_bound(BOUND).await.expect("bound");
        subscribers.push(subscriber);
        conns.push(conn);
    }
    let publisher = connect().await;
    Broadcaster::new(&publisher)
        .publish(&topic, b"block 1")
        .await
        .expect("confirmed");
    for subscriber in &mut subscribers {
        assert_eq!(
            next(subscriber).await,
            Some((topic.clone(), b"block 1".to_vec()))
        );
    }
    for conn in conns.iter().chain([&publisher]) {
        conn.close().await;
    }
}

#[tokio::test]
async fn wildcard_bindings_match_like_amqp_topics() {
    let conn = connect().await;
    let prefix = unique("wildcard");
    let one_word = format!("{prefix}.block.*");
    let any_words = format!("{prefix}.event.#");
    let mut subscriber = Subscriber::subscribe(&conn, &[&one_word, &any_words]);
    subscriber.wait_bound(BOUND).await.expect("bound");
    let broadcaster = Broadcaster::new(&conn);
    let topics = [
        ("block.accept", true),
        ("block.accept.extra", false), // `*` is exactly one word
        ("event.1AbC.koinos.contracts.token.transfer_event", true),
        ("event", true),     // `#` matches zero or more words
        ("events.x", false), // but only whole words
        ("other.accept", false),
    ];
    for (suffix, _) in topics {
        let topic = format!("{prefix}.{suffix}");
        broadcaster
            .publish(&topic, suffix.as_bytes())
            .await
            .unwrap();
    }
    let mut received = Vec::new();
    while let Some((topic, body)) = next(&mut subscriber).await {
        assert_eq!(
            topic,
            format!("{prefix}.{}", String::from_utf8(body).unwrap())
        );
        received.push(topic);
    }
    received.sort();
    let mut expected: Vec<String> = topics
        .iter()
        .filter(|(_, matches)| *matches)
        .map(|(suffix, _)| format!("{prefix}.{suffix}"))
        .collect();
    expected.sort();
    assert_eq!(received, expected);
    conn.close().await;
}

#[tokio::test]
async fn subscriber_ends_when_its_connection_drains() {
    let conn = connect().await;
    let topic = unique("drain_sub");
    let mut subscriber = Subscriber::subscribe(&conn, &[&topic]);
    subscriber.wait_bound(BOUND).await.expect("bound");
    conn.close().await;
    let end = tokio::time::timeout(Duration::from_secs(5), subscriber.recv()).await;
    assert_eq!(end.expect("recv returns"), None);
}
