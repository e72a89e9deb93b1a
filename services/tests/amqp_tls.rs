//! `amqps://` against the local RabbitMQ's TLS listener on 127.0.0.1:5671, whose certificate
//! is for `localhost` only and signed by the test CA (`bash scripts/ensure-rabbitmq.sh` sets it
//! up, with an unrelated CA beside it, in $KOINOS_RABBITMQ_TLS_DIR or /etc/rabbitmq/koinos-tls).

mod amqp_support;
mod stores_support;

use amqp_support::{ephemeral, settle, unique};
use koinos_services::mq::{CaBundle, CallOptions, Connection, RpcClient, RpcServer};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stores_support::{Vhost, free_address, http_status};

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

/// `koinos-mempool` on a private vhost over amqps, with `--amqp-ca-file` `ca`; its log file.
fn mempool(
    vhost: &Vhost,
    host: &str,
    ca: &str,
) -> (std::process::Child, std::net::SocketAddr, PathBuf) {
    let basedir = std::env::temp_dir().join(format!("{}-mempool", vhost.name));
    std::fs::create_dir_all(&basedir).unwrap();
    let log = basedir.join("mempool.log");
    let admin = free_address();
    let url = format!("amqps://guest:guest@{host}/{}", vhost.name);
    let child = Command::new(env!("CARGO_BIN_EXE_koinos-mempool"))
        .arg("--basedir")
        .arg(&basedir)
        .args(["--amqp", &url, "--metrics-address", &admin.to_string()])
        .arg("--amqp-ca-file")
        .arg(tls_dir().join(ca))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start koinos-mempool");
    (child, admin, log)
}

#[test]
fn a_service_binary_with_amqp_ca_file_connects_over_amqps() {
    // (mempool turns ready only after its readiness delay: the connection is what counts.)
    let vhost = Vhost::new("tls_mempool");
    let (mut child, _, log) = mempool(&vhost, "localhost:5671", "ca.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("connected to broker") {
            assert!(!text.contains("broker unreachable"), "{text}");
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "exited: {text}");
        assert!(
            Instant::now() < deadline,
            "not connected over amqps within 30 s: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}

#[test]
fn a_service_binary_with_another_ca_keeps_retrying_and_logs_why() {
    let vhost = Vhost::new("tls_mempool_wrong_ca");
    let (mut child, admin, log) = mempool(&vhost, "localhost:5671", "other-ca.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("UnknownIssuer") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no TLS error logged within 30 s: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.contains("amqps://guest:***@localhost:5671/"), "{text}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "it keeps retrying, like any broker outage"
    );
    assert_ne!(http_status(admin, "/readyz"), Some(200));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(log.parent().unwrap());
}

#[test]
fn a_service_binary_refuses_a_ca_file_with_a_plain_amqp_url() {
    let output = Command::new(env!("CARGO_BIN_EXE_koinos-mempool"))
        .args(["--amqp", "amqp://guest:guest@localhost:5672/"])
        .arg("--amqp-ca-file")
        .arg(tls_dir().join("ca.pem"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("amqp-ca-file") && stderr.contains("not amqps://"),
        "{stderr}"
    );
}
