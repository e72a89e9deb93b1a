//! RPC over a real broker: round trip, competing consumers, concurrency, retry, cancellation.

mod amqp_support;

use amqp_support::{connect, ephemeral, settle, unique};
use futures::future::join_all;
use koinos_services::mq::{CallOptions, RetryPolicy, RpcClient, RpcServer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn reversed(body: Vec<u8>) -> Vec<u8> {
    body.into_iter().rev().collect()
}

#[tokio::test]
async fn rpc_round_trip() {
    let conn = connect().await;
    let service = unique("round_trip");
    let server = conn.clone();
    let svc = service.clone();
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, ephemeral(4), |b: Vec<u8>| async move {
            Some(reversed(b))
        })
        .await
    });
    settle().await;
    let client = RpcClient::new(&conn);
    let reply = client
        .call(&service, b"koinos", CallOptions::default())
        .await;
    assert_eq!(reply.unwrap(), b"soniok");
    assert_eq!(client.pending_calls(), 0);
    conn.close().await;
}

#[tokio::test]
async fn three_servers_on_one_queue_all_receive_work() {
    let service = unique("competing");
    let counts: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::default()).collect();
    let mut servers = Vec::new();
    for count in &counts {
        let conn = connect().await;
        let (svc, count, server) = (service.clone(), count.clone(), conn.clone());
        tokio::spawn(async move {
            RpcServer::serve_with(&server, &svc, ephemeral(2), move |b: Vec<u8>| {
                let count = count.clone();
                async move {
                    count.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Some(b)
                }
            })
            .await
        });
        servers.push(conn);
    }
    settle().await;
    let conn = connect().await;
    let client = RpcClient::new(&conn);
    let calls = (0..150u32).map(|i| {
        let client = client.clone();
        let service = service.clone();
        async move {
            client
                .call(&service, &i.to_be_bytes(), CallOptions::default())
                .await
        }
    });
    for (i, reply) in join_all(calls).await.into_iter().enumerate() {
        assert_eq!(reply.unwrap(), (i as u32).to_be_bytes());
    }
    let counts: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(counts.iter().sum::<usize>(), 150, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c > 0),
        "every server got work: {counts:?}"
    );
    for conn in servers.iter().chain([&conn]) {
        conn.close().await;
    }
}

#[tokio::test]
async fn a_thousand_concurrent_calls_get_their_own_answers() {
    let conn = connect().await;
    let service = unique("thousand");
    let (server, svc) = (conn.clone(), service.clone());
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, ephemeral(64), |b: Vec<u8>| async move {
            Some(reversed(b))
        })
        .await
    });
    settle().await;
    let client = RpcClient::new(&conn);
    let calls = (0..1000u32).map(|i| {
        let client = client.clone();
        let service = service.clone();
        async move {
            let body = format!("request-{i}").into_bytes();
            let options = CallOptions::timeout(Duration::from_secs(30));
            (body.clone(), client.call(&service, &body, options).await)
        }
    });
    let results = join_all(calls).await;
    for (body, reply) in results {
        assert_eq!(reply.expect("answered"), reversed(body));
    }
    assert_eq!(client.pending_calls(), 0);
    conn.close().await;
}

#[tokio::test]
async fn a_dropped_call_leaves_no_correlation_entry() {
    let conn = connect().await;
    let service = unique("cancel");
    let (server, svc) = (conn.clone(), service.clone());
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, ephemeral(2), |b: Vec<u8>| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some(b)
        })
        .await
    });
    settle().await;
    let client = RpcClient::new(&conn);
    let call = client.call(
        &service,
        b"slow",
        CallOptions::timeout(Duration::from_secs(10)),
    );
    let cut = tokio::time::timeout(Duration::from_millis(300), call).await;
    assert!(cut.is_err(), "the call is still waiting when dropped");
    assert_eq!(client.pending_calls(), 0);
    // The late reply finds no waiter and is discarded; the client keeps working.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let reply = client.call(
        &service,
        b"next",
        CallOptions::timeout(Duration::from_secs(10)),
    );
    assert_eq!(reply.await.unwrap(), b"next");
    conn.close().await;
}

#[tokio::test]
async fn unanswered_call_times_out() {
    let conn = connect().await;
    let client = RpcClient::new(&conn);
    let service = unique("nobody");
    let started = std::time::Instant::now();
    let err = client
        .call(
            &service,
            b"x",
            CallOptions::timeout(Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(client.pending_calls(), 0);
    conn.close().await;
}

#[tokio::test]
async fn backoff_retry_resends_after_expiration_with_a_new_correlation_id() {
    let conn = connect().await;
    let service = unique("retry");
    let client = RpcClient::new(&conn);
    let options = CallOptions {
        timeout: Duration::from_secs(20),
        expiration: Some(Duration::from_millis(300)),
        retry: RetryPolicy::ExponentialBackoff {
            max_expiration: Duration::from_secs(2),
        },
        persistent: false,
    };
    // No server yet: the first attempts go unrouted or expire; a later one is answered.
    let call = tokio::spawn({
        let (client, service) = (client.clone(), service.clone());
        async move { client.call(&service, b"late", options).await }
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let handled = Arc::new(AtomicUsize::new(0));
    let (server, svc, h) = (conn.clone(), service.clone(), handled.clone());
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, ephemeral(2), move |b: Vec<u8>| {
            h.fetch_add(1, Ordering::Relaxed);
            async move { Some(b) }
        })
        .await
    });
    let reply = call.await.unwrap().expect("a retry is answered");
    assert_eq!(reply, b"late");
    assert_eq!(
        handled.load(Ordering::Relaxed),
        1,
        "expired attempts are not processed"
    );
    conn.close().await;
}

/// `jobs` bounds the handlers running at once, the prefetch window the deliveries held: with
/// one job, a blocked handler and ten calls, the other nine wait in this consumer (none left
/// ready in the queue, so no round trip to the broker per request) and still run one at a time.
#[tokio::test]
async fn one_job_runs_one_handler_at_a_time_while_the_window_holds_the_next_deliveries() {
    let service = unique("window");
    let conn = connect().await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (server, svc) = (conn.clone(), service.clone());
    let (g, r, m) = (gate.clone(), running.clone(), most.clone());
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, ephemeral(1), move |b: Vec<u8>| {
            let (gate, running, most) = (g.clone(), r.clone(), m.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                gate.acquire().await.expect("open").forget();
                running.fetch_sub(1, Ordering::SeqCst);
                Some(b)
            }
        })
        .await
    });
    settle().await;
    let client = RpcClient::new(&conn);
    let calls: Vec<_> = (0..10u32)
        .map(|i| {
            let (client, service) = (client.clone(), service.clone());
            tokio::spawn(async move {
                client
                    .call(&service, &i.to_be_bytes(), CallOptions::default())
                    .await
            })
        })
        .collect();
    let queue = koinos_services::mq::topology::rpc_queue(&service);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    let ready = loop {
        let stats = conn.queue_stats(&queue).await.unwrap().expect("queue");
        if stats.ready == 0 && running.load(Ordering::SeqCst) == 1 {
            break 0;
        }
        if tokio::time::Instant::now() > deadline {
            break stats.ready;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        ready, 0,
        "the deliveries beyond the running one are held by the consumer"
    );
    gate.add_permits(10);
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), (i as u32).to_be_bytes());
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "one job: one handler at a time"
    );
    conn.close().await;
}
