//! A broker restart under load (`rabbitmqctl stop_app` / `start_app`): servers and clients
//! reconnect and re-declare, every call gets its answer, and requests whose handlers were
//! running when the broker went away are redelivered, not lost.
//!
//! Alone in its own test binary: it takes the shared broker down for a few seconds.

mod amqp_support;

use amqp_support::{connect, ephemeral, settle, unique};
use futures::future::join_all;
use koinos_services::mq::{CallOptions, RpcClient, RpcServer};
use koinos_services::runtime::metrics::RpcMetrics;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CALLS: u32 = 300;

fn rabbitmqctl(command: &str) {
    let status = Command::new("rabbitmqctl")
        .args(["-q", command])
        .status()
        .unwrap_or_else(|e| panic!("cannot run `rabbitmqctl {command}`: {e}"));
    assert!(status.success(), "`rabbitmqctl {command}` failed: {status}");
}

/// Restarts the broker app if the test stops it and then fails before restarting it.
struct RestoreBroker {
    stopped: bool,
}

impl Drop for RestoreBroker {
    fn drop(&mut self) {
        if self.stopped {
            let _ = Command::new("rabbitmqctl")
                .args(["-q", "start_app"])
                .status();
        }
    }
}

/// One handler run: the request body, when it started and when it finished.
type Run = (Vec<u8>, Instant, Instant);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_in_flight_work_survive_a_broker_restart() {
    let service = unique("restart");
    let server_conn = connect().await;
    let client_conn = connect().await;
    let runs = Arc::new(Mutex::new(Vec::<Run>::new()));
    let (server, svc, h) = (server_conn.clone(), service.clone(), runs.clone());
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, ephemeral(8), move |body: Vec<u8>| {
            let h = h.clone();
            async move {
                let started = Instant::now();
                tokio::time::sleep(Duration::from_millis(150)).await;
                h.lock()
                    .unwrap()
                    .push((body.clone(), started, Instant::now()));
                Some(body.into_iter().rev().collect::<Vec<u8>>())
            }
        })
        .await
    });
    settle().await;

    let client = RpcClient::new(&client_conn);
    let calls = tokio::spawn({
        let (client, service) = (client.clone(), service.clone());
        async move {
            let calls = (0..CALLS).map(|i| {
                let (client, service) = (client.clone(), service.clone());
                async move {
                    // Spread over ~9 s so that calls start before, during and after the outage,
                    // even when `rabbitmqctl stop_app` takes seconds on a busy machine.
                    tokio::time::sleep(Duration::from_millis(u64::from(i) * 30)).await;
                    let body = format!("call-{i}").into_bytes();
                    // Persistent requests are kept and redelivered by the broker itself;
                    // transient ones are re-sent by the client: both must be answered.
                    let options = CallOptions::timeout(Duration::from_secs(90));
                    let options = if i % 2 == 0 {
                        options.with_persistent()
                    } else {
                        options
                    };
                    (body.clone(), client.call(&service, &body, options).await)
                }
            });
            join_all(calls).await
        }
    });

    tokio::time::sleep(Duration::from_millis(800)).await;
    // When the server's connection drops, as seen by the supervisor.
    let lost_at = tokio::spawn({
        let server = server_conn.clone();
        async move {
            while server.is_connected() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Instant::now()
        }
    });
    let mut restore = RestoreBroker { stopped: true };
    tokio::task::spawn_blocking(|| rabbitmqctl("stop_app"))
        .await
        .unwrap();
    let lost_at = lost_at.await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::spawn_blocking(|| rabbitmqctl("start_app"))
        .await
        .unwrap();
    restore.stopped = false;

    let results = tokio::time::timeout(Duration::from_secs(120), calls)
        .await
        .expect("calls complete")
        .unwrap();
    let mut failed = Vec::new();
    for (body, reply) in results {
        match reply {
            Ok(reply) => assert_eq!(reply, body.iter().rev().copied().collect::<Vec<u8>>()),
            Err(err) => failed.push(format!("{}: {err}", String::from_utf8_lossy(&body))),
        }
    }
    assert!(failed.is_empty(), "calls without an answer: {failed:?}");
    assert!(server_conn.is_connected() && client_conn.is_connected());

    // Handlers running when the connection dropped could not ack: each must run again.
    let runs = runs.lock().unwrap().clone();
    let in_flight: Vec<&Vec<u8>> = runs
        .iter()
        .filter(|(_, started, finished)| *started < lost_at && *finished > lost_at)
        .map(|(body, _, _)| body)
        .collect();
    assert!(
        !in_flight.is_empty(),
        "handlers were running when the broker stopped"
    );
    for body in &in_flight {
        let later = runs
            .iter()
            .filter(|(b, started, _)| b == *body && *started > lost_at);
        assert!(
            later.count() >= 1,
            "{} was handled again after the restart",
            String::from_utf8_lossy(body)
        );
    }
    let redelivered = RpcMetrics::for_service(&service).redelivered.get();
    assert!(
        redelivered >= 1,
        "the broker redelivered unacked requests ({redelivered})"
    );
    client_conn.close().await;
    server_conn.close().await;
}
