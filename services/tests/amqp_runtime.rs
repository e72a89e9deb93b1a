//! The service runtime against a real broker: draining on shutdown and the admin endpoint.

mod amqp_support;

use amqp_support::{connect, ephemeral, settle, unique};
use koinos_services::mq::{CallOptions, RpcClient, RpcServer};
use koinos_services::runtime::metrics::RpcMetrics;
use koinos_services::runtime::{Readiness, spawn_admin};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn drain_finishes_in_flight_work_then_stops_consuming() {
    let server_conn = connect().await;
    let service = unique("drain");
    let (server, svc) = (server_conn.clone(), service.clone());
    let serving = tokio::spawn(async move {
        RpcServer::serve_with(&server, &svc, ephemeral(4), |b: Vec<u8>| async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            Some(b)
        })
        .await
    });
    settle().await;
    let client_conn = connect().await;
    let client = RpcClient::new(&client_conn);
    let options = CallOptions::timeout(Duration::from_secs(10));
    let in_flight = tokio::spawn({
        let (client, service) = (client.clone(), service.clone());
        async move { client.call(&service, b"in flight", options).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // What SIGTERM does: stop consuming, finish the running handler, ack, close.
    let closing = tokio::spawn({
        let conn = server_conn.clone();
        async move { conn.close().await }
    });
    assert_eq!(in_flight.await.unwrap().unwrap(), b"in flight");
    tokio::time::timeout(Duration::from_secs(5), closing)
        .await
        .unwrap()
        .unwrap();
    serving
        .await
        .unwrap()
        .expect("serve returns Ok after draining");
    // Nobody consumes any more: a new request waits in the queue and times out.
    let after = client.call(
        &service,
        b"after",
        CallOptions::timeout(Duration::from_millis(700)),
    );
    assert!(after.await.is_err());
    assert_eq!(RpcMetrics::for_service(&service).in_flight.get(), 0);
    client_conn.close().await;
}

async fn get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn admin_endpoint_serves_metrics_health_and_readiness() {
    let conn = connect().await;
    let readiness = Readiness::new(&conn);
    let address = spawn_admin("127.0.0.1:0".parse().unwrap(), readiness.clone())
        .await
        .unwrap();
    let service = unique("admin");
    RpcMetrics::for_service(&service)
        .requests
        .with_label_values(&["get_x", "ok"])
        .inc();

    assert_eq!(get(address, "/healthz").await.0, 200);
    assert_eq!(
        get(address, "/readyz").await.0,
        503,
        "not ready until the service says so"
    );
    readiness.set(true);
    assert_eq!(get(address, "/readyz").await.0, 200);
    let (status, metrics) = get(address, "/metrics").await;
    assert_eq!(status, 200);
    let line = format!("koinos_{service}_rpc_requests_total{{method=\"get_x\",outcome=\"ok\"}} 1");
    assert!(metrics.contains(&line), "{metrics}");
    conn.close().await;
    assert_eq!(
        get(address, "/readyz").await.0,
        503,
        "not ready without a broker connection"
    );
}

#[tokio::test]
async fn starts_without_a_broker_and_keeps_retrying() {
    // Nothing listens on port 1: connecting must not fail or block start-up.
    let conn =
        koinos_services::mq::Connection::connect_supervised("amqp://guest:guest@127.0.0.1:1/")
            .expect("a valid URL is accepted before any network I/O");
    assert!(!conn.is_connected());
    let waited = conn.wait_connected(Duration::from_millis(500)).await;
    assert!(waited.is_err());
    let (server, svc) = (conn.clone(), unique("no_broker"));
    let serving = tokio::spawn(async move {
        RpcServer::serve_with(
            &server,
            &svc,
            ephemeral(1),
            |b: Vec<u8>| async move { Some(b) },
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!serving.is_finished(), "the server waits for the broker");
    tokio::time::timeout(Duration::from_secs(5), conn.close())
        .await
        .expect("close is prompt");
    serving.await.unwrap().unwrap();
}
