//! `amqps://` against the local RabbitMQ's TLS listener on 127.0.0.1:5671, whose certificate
//! is for `localhost` only and signed by the test CA (`bash scripts/ensure-rabbitmq.sh` sets it
//! up, with an unrelated CA beside it, in $KOINOS_RABBITMQ_TLS_DIR or /etc/rabbitmq/koinos-tls).

mod amqp_support;

use amqp_support::{ephemeral, settle, unique};
use koinos_services::mq::{CaBundle, CallOptions, Connection, RpcClient, RpcServer};
use std::path::PathBuf;
use std::time::Duration;

fn tls_dir() -> PathBuf {
    std::env::var_os("KOINOS_RABBITMQ_TLS_DIR")
        .map_or_else(|| PathBuf::from("/etc/rabbitmq/koinos-tls"), PathBuf::from)
}

fn ca(name: &str) -> CaBundle {
    let path = tls_dir().join(name);
    CaBundle::from_file(&path).unwrap_or_else(|err| {
        panic!("{err}: run `bash scripts/ensure-rabbitmq.sh` first (it makes the test CAs)")
    })
}

/// The error the supervisor records for the first failed attempt (it keeps retrying).
async fn first_error(conn: &Connection) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(error) = conn.last_error() {
            eprintln!("refused as expected: {error}");
            return error;
        }
        assert!(
            !conn.is_connected(),
            "connected, but should have been refused"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "neither connected nor refused within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn amqps_with_the_brokers_ca_serves_an_rpc_round_trip() {
    let url = "amqps://guest:guest@localhost:5671/";
    let conn = Connection::connect_supervised_with(url, Some(&ca("ca.pem"))).unwrap();
    conn.wait_connected(Duration::from_secs(15))
        .await
        .unwrap_or_else(|_| panic!("no amqps connection: {:?}", conn.last_error()));
    let service = unique("tls_echo");
    let server = conn.clone();
    let name = service.clone();
    tokio::spawn(async move {
        RpcServer::serve_with(&server, &name, ephemeral(2), |body: Vec<u8>| async move {
            Some(body)
        })
        .await
    });
    settle().await;
    let reply = RpcClient::new(&conn)
        .call(
            &service,
            b"over tls",
            CallOptions::timeout(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    assert_eq!(reply, b"over tls");
    conn.close().await;
}

#[tokio::test]
async fn amqps_with_another_ca_is_refused_naming_the_broker() {
    let url = "amqps://guest:secret@localhost:5671/";
    let conn = Connection::connect_supervised_with(url, Some(&ca("other-ca.pem"))).unwrap();
    let error = first_error(&conn).await;
    assert!(
        error.contains("amqps://guest:***@localhost:5671/"),
        "{error}"
    );
    assert!(!error.contains("secret"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    conn.close().await;
}

#[tokio::test]
async fn amqps_to_a_name_the_certificate_does_not_cover_is_refused() {
    // The certificate names DNS:localhost only.
    let url = "amqps://guest:guest@127.0.0.1:5671/";
    let conn = Connection::connect_supervised_with(url, Some(&ca("ca.pem"))).unwrap();
    let error = first_error(&conn).await;
    assert!(error.contains("@127.0.0.1:5671"), "{error}");
    assert!(error.contains("not valid for name"), "{error}");
    conn.close().await;
}

#[tokio::test]
async fn amqps_to_a_plaintext_listener_fails_instead_of_hanging() {
    let url = "amqps://guest:guest@localhost:5672/";
    let conn = Connection::connect_supervised_with(url, Some(&ca("ca.pem"))).unwrap();
    let error = first_error(&conn).await;
    assert!(error.contains("@localhost:5672"), "{error}");
    assert!(error.contains("did not answer in TLS"), "{error}");
    conn.close().await;
}

#[test]
fn a_ca_with_a_plain_amqp_url_is_refused() {
    let err = Connection::connect_supervised_with("amqp://u:p@localhost/", Some(&ca("ca.pem")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not amqps://"), "{err}");
}
