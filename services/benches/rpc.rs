//! RPC and broadcast throughput of the `mq` runtime next to raw lapin on the same broker.
//!
//! `cargo bench -p koinos-services --bench rpc` (needs RabbitMQ on 127.0.0.1:5672).
//! Prints, for a no-op handler, RPC calls/s and p50/p99 latency at concurrency 1, 16 and 256,
//! and broadcast messages/s, each as a ratio of the baseline measured in the same run: raw lapin
//! publish -> consume of the same number of messages (transient, auto-ack, no confirms).
//! An RPC moves two messages (persistent request, reply) plus a manual ack where the baseline
//! moves one message.

use futures::StreamExt;
use futures::future::join_all;
use koinos_services::mq::{
    Broadcaster, CallOptions, Connection, RpcClient, RpcServer, ServerOptions, Subscriber,
    parse_url,
};
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/";
const PAYLOAD: &[u8] = &[0x2a; 64];

#[tokio::main]
async fn main() {
    let messages: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    println!(
        "mq benchmark: {messages} messages per run, {} byte payload",
        PAYLOAD.len()
    );

    let server_conn = connect().await;
    let service = format!("bench_{}", std::process::id());
    let options = ServerOptions {
        idle_queue_expiry: Some(Duration::from_secs(60)),
        ..ServerOptions::new(256)
    };
    let (server, svc) = (server_conn.clone(), service.clone());
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, options, |b: Vec<u8>| async move { Some(b) }).await
    });
    let client_conn = connect().await;
    let client = RpcClient::new(&client_conn);
    // Warm up: the first call re-sends until the server has declared its queue.
    client
        .call(
            &service,
            PAYLOAD,
            CallOptions::koinos_backoff(Duration::from_secs(30)),
        )
        .await
        .expect("server up");
    for _ in 0..200 {
        client
            .call(&service, PAYLOAD, CallOptions::default())
            .await
            .expect("warm-up call");
    }

    // The machine may be shared: each figure is the median of ROUNDS runs, each run next to a
    // raw baseline run, and the ratio is the median of the per-run ratios.
    println!("\nRPC, no-op handler (server jobs = 256); median of {ROUNDS} rounds");
    println!("concurrency     calls/s   raw msg/s   x raw    p50 ms    p99 ms");
    for concurrency in [1usize, 16, 256] {
        let calls = if concurrency == 1 {
            messages / 4
        } else {
            messages
        };
        let mut rounds = Vec::new();
        for _ in 0..ROUNDS {
            let raw = raw_publish_consume(messages).await;
            let run = rpc_run(&client, &service, concurrency, calls).await;
            rounds.push((run, raw));
        }
        let (run, raw) = median_by_ratio(rounds);
        println!(
            "{concurrency:>11} {:>11.0} {raw:>11.0} {:>7.2} {:>9.3} {:>9.3}",
            run.per_second,
            run.per_second / raw,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3,
        );
    }

    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let raw = raw_publish_consume(messages).await;
        rounds.push((broadcast_run(&client_conn, messages).await, raw));
    }
    rounds.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (broadcasts, raw) = rounds[rounds.len() / 2];
    println!("\nbroadcast (publisher confirms, 256 publishers, 1 subscriber)");
    println!(
        "                msg/s   raw msg/s   x raw\n{broadcasts:>21.0} {raw:>11.0} {:>7.2}",
        broadcasts / raw
    );
    client_conn.close().await;
    server_conn.close().await;
}

const ROUNDS: usize = 3;

fn median_by_ratio(mut rounds: Vec<(RpcRun, f64)>) -> (RpcRun, f64) {
    rounds.sort_by(|a, b| (a.0.per_second / a.1).total_cmp(&(b.0.per_second / b.1)));
    rounds.swap_remove(rounds.len() / 2)
}

async fn connect() -> Connection {
    let conn = Connection::connect_supervised(BROKER).expect("valid URL");
    conn.wait_connected(Duration::from_secs(15))
        .await
        .expect("no RabbitMQ on 127.0.0.1:5672: run scripts/ensure-rabbitmq.sh");
    conn
}

/// Raw lapin: one connection publishes `n` messages to a fresh queue while another consumes
/// them; messages per second from the first publish to the last delivery.
async fn raw_publish_consume(n: usize) -> f64 {
    let uri = || parse_url(BROKER).expect("valid URL");
    let publisher = lapin::Connection::connect_uri(uri(), ConnectionProperties::default())
        .await
        .expect("broker");
    let consumer_conn = lapin::Connection::connect_uri(uri(), ConnectionProperties::default())
        .await
        .expect("broker");
    let channel = consumer_conn.create_channel().await.unwrap();
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await
        .unwrap();
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "".into(),
            no_ack,
            FieldTable::default(),
        )
        .await
        .unwrap();
    let publish_channel = publisher.create_channel().await.unwrap();
    let started = Instant::now();
    let queue_name = queue.name().clone();
    let publishing = tokio::spawn(async move {
        for _ in 0..n {
            publish_channel
                .basic_publish(
                    "".into(),
                    queue_name.clone(),
                    BasicPublishOptions::default(),
                    PAYLOAD,
                    BasicProperties::default(),
                )
                .await
                .unwrap();
        }
        publish_channel
    });
    for _ in 0..n {
        consumer.next().await.expect("delivery").unwrap();
    }
    let elapsed = started.elapsed();
    drop(publishing.await);
    let _ = publisher.close(200, "done".into()).await;
    let _ = consumer_conn.close(200, "done".into()).await;
    n as f64 / elapsed.as_secs_f64()
}

struct RpcRun {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// `calls` calls spread over `concurrency` workers, each calling in a loop.
async fn rpc_run(client: &RpcClient, service: &str, concurrency: usize, calls: usize) -> RpcRun {
    let remaining = Arc::new(AtomicUsize::new(calls));
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (client, remaining) = (client.clone(), remaining.clone());
        async move {
            let mut latencies = Vec::new();
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let t = Instant::now();
                let reply = client.call(service, PAYLOAD, CallOptions::default()).await;
                assert_eq!(reply.expect("answered"), PAYLOAD);
                latencies.push(t.elapsed());
            }
            latencies
        }
    });
    let mut latencies: Vec<Duration> = join_all(workers).await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    RpcRun {
        per_second: calls as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// `n` confirmed broadcasts from 256 concurrent publishers, until one subscriber has them all.
async fn broadcast_run(conn: &Connection, n: usize) -> f64 {
    let topic = format!(
        "bench.{}.{}.block.accept",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut subscriber = Subscriber::subscribe(conn, &[&topic]);
    subscriber
        .wait_bound(Duration::from_secs(10))
        .await
        .expect("bound");
    let broadcaster = Broadcaster::new(conn);
    let remaining = Arc::new(AtomicUsize::new(n));
    let started = Instant::now();
    let publishers = (0..256).map(|_| {
        let (broadcaster, remaining, topic) =
            (broadcaster.clone(), remaining.clone(), topic.clone());
        tokio::spawn(async move {
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                broadcaster
                    .publish(&topic, PAYLOAD)
                    .await
                    .expect("confirmed");
            }
        })
    });
    let publishing = join_all(publishers);
    let receiving = async {
        for _ in 0..n {
            subscriber.recv().await.expect("broadcast");
        }
    };
    let (_, ()) = tokio::join!(publishing, receiving);
    n as f64 / started.elapsed().as_secs_f64()
}
