//! Helpers of the store broker tests: a private RabbitMQ vhost per test (our binaries use the
//! fixed official queue names, so tests running side by side must not share a vhost), the
//! service binaries as child processes, and block/transaction builders.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use koinos_protocol::pb::koinos::protocol::{ObjectSpace, StateDeltaEntry};
use koinos_protocol::{Block, BlockHeader, BlockReceipt, Transaction, TransactionHeader};
use koinos_services::mq::typed::{RequestEnvelope, ResponseEnvelope, TypedClient};
use koinos_services::mq::{CallOptions, Connection, RpcClient};

/// A RabbitMQ vhost that exists for the life of the value (guest has full rights on it).
pub struct Vhost {
    pub name: String,
}

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run rabbitmqctl ({e}): these tests need the local RabbitMQ \
                 (run `bash scripts/ensure-rabbitmq.sh`) and its rabbitmqctl"
            )
        });
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}{}\n(is RabbitMQ running? `bash scripts/ensure-rabbitmq.sh`)",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Vhost {
    pub fn new(test: &str) -> Vhost {
        let name = format!(
            "test_{test}_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        Vhost { name }
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }

    /// A connected client connection on this vhost.
    pub async fn connect(&self) -> Connection {
        let conn = Connection::connect_supervised(&self.url()).expect("valid URL");
        conn.wait_connected(Duration::from_secs(15))
            .await
            .expect("no RabbitMQ on 127.0.0.1:5672: run `bash scripts/ensure-rabbitmq.sh`");
        conn
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.name])
            .output();
    }
}

/// A service binary running as a child process; killed (SIGKILL) when dropped.
pub struct ServiceProcess {
    pub child: Child,
    pub admin: SocketAddr,
    pub log: PathBuf,
}

/// A free local port for a service's admin endpoint.
pub fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address")
}

impl ServiceProcess {
    /// Starts `binary` (a `CARGO_BIN_EXE_*` path) on `vhost` with base directory `basedir`.
    pub fn spawn(binary: &str, vhost: &Vhost, basedir: &Path, extra: &[&str]) -> ServiceProcess {
        std::fs::create_dir_all(basedir).expect("create basedir");
        let admin = free_address();
        let name = Path::new(binary)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let log = basedir.join(format!("{name}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open log");
        let child = Command::new(binary)
            .arg("--basedir")
            .arg(basedir)
            .args([
                "--amqp",
                &vhost.url(),
                "--metrics-address",
                &admin.to_string(),
            ])
            .args(["--log-level", "debug"])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::from(log_file.try_clone().unwrap()))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        ServiceProcess { child, admin, log }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        http_status(self.admin, "/readyz") == Some(200)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Status code of `GET path` on `address`, if it answers.
pub fn http_status(address: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// A typed client of `service` with a 5 s timeout per call.
pub fn client<Req: RequestEnvelope, Resp: ResponseEnvelope>(
    conn: &Connection,
    service: &str,
) -> TypedClient<Req, Resp> {
    TypedClient::new(
        &RpcClient::new(conn),
        service,
        CallOptions::timeout(Duration::from_secs(5)),
    )
}

/// Waits (up to 30 s) until the service answers its ping.
pub async fn wait_serving<Req: RequestEnvelope, Resp: ResponseEnvelope>(
    client: &TypedClient<Req, Resp>,
    process: &ServiceProcess,
) {
    for _ in 0..30 {
        if client.ping().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("service never answered; its log:\n{}", process.log_text());
}

/// Polls `check` every 100 ms for up to `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The parent of block 1.
pub fn zero_id() -> Vec<u8> {
    let mut id = vec![0x12, 0x20];
    id.resize(34, 0);
    id
}

/// A deterministic id for block `height` of `fork`.
pub fn block_id(fork: u8, height: u64) -> Vec<u8> {
    let mut id = vec![0x12, 0x20, fork];
    id.extend_from_slice(&height.to_be_bytes());
    id.resize(34, 0x5a);
    id
}

pub fn tx_id(n: u32) -> Vec<u8> {
    let mut id = vec![0x12, 0x20];
    id.extend_from_slice(&n.to_be_bytes());
    id.resize(34, 0x7e);
    id
}

pub fn transaction(n: u32, payer: &[u8], nonce: u64, rc_limit: u64) -> Transaction {
    Transaction {
        id: tx_id(n),
        header: Some(TransactionHeader {
            rc_limit,
            nonce: koinos_services::mempool::encode_nonce(nonce),
            payer: payer.to_vec(),
            ..Default::default()
        }),
        signatures: vec![vec![1; 65]],
        ..Default::default()
    }
}

/// Block `height` of `fork` on `previous`, holding `transactions`.
pub fn block(fork: u8, height: u64, previous: Vec<u8>, transactions: Vec<Transaction>) -> Block {
    Block {
        id: block_id(fork, height),
        header: Some(BlockHeader {
            previous,
            height,
            timestamp: 1_700_000_000_000 + height * 3000,
            ..Default::default()
        }),
        transactions,
        signature: vec![fork; 65],
    }
}

/// A receipt with `delta_bytes` of state delta (chain catch-up replays these).
pub fn receipt(fork: u8, height: u64, delta_bytes: usize) -> BlockReceipt {
    BlockReceipt {
        id: block_id(fork, height),
        height,
        state_delta_entries: vec![StateDeltaEntry {
            object_space: Some(ObjectSpace {
                system: true,
                zone: vec![],
                id: 4,
            }),
            key: height.to_be_bytes().to_vec(),
            value: Some(vec![fork; delta_bytes]),
        }],
        ..Default::default()
    }
}
