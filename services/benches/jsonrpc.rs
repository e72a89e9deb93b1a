//! JSON-RPC gateway throughput: `chain.get_head_info` requests per second end to end (HTTP
//! keep-alive → koinos-jsonrpc → RabbitMQ → koinos-chain → back), next to the baseline measured
//! in the same run: the same call made directly over AMQP with our RPC client, at the same
//! concurrency. Run with `cargo bench -p koinos-services --bench jsonrpc`; needs RabbitMQ.

#[path = "../tests/node_support/mod.rs"]
mod node_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetHeadInfoRequest, chain_request, chain_response,
};
use koinos_services::devnet::launcher::Node;
use koinos_services::devnet::{self, DevnetSpec, http_client};
use koinos_services::mq::{CallOptions, Connection, RpcClient};
use node_support::Vhost;
use prost::Message;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CONCURRENCY: usize = 16;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

/// Runs `CONCURRENCY` workers until the deadline; returns completed calls per second over
/// the measurement window (after a warm-up).
async fn measure<W, Fut>(worker: W) -> f64
where
    W: Fn(Arc<AtomicU64>, Instant) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + WARMUP + MEASURE;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| tokio::spawn(worker(done.clone(), stop_at)))
        .collect();
    tokio::time::sleep(WARMUP).await;
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    for task in tasks {
        task.await.expect("worker");
    }
    (done.load(Ordering::Relaxed) - start_count) as f64 / start.elapsed().as_secs_f64()
}

/// One keep-alive HTTP/1.1 connection posting JSON-RPC bodies.
struct KeepAlive {
    reader: BufReader<TcpStream>,
}

impl KeepAlive {
    async fn connect(addr: SocketAddr) -> Self {
        Self {
            reader: BufReader::new(TcpStream::connect(addr).await.expect("connect")),
        }
    }

    async fn post(&mut self, body: &str) -> String {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.expect("read header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).await.expect("read body");
        String::from_utf8(body).expect("utf-8")
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let vhost = Vhost::create("bench-jsonrpc");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = DevnetSpec {
        amqp: vhost.amqp_url(),
        listen: format!("127.0.0.1:{port}"),
        ..DevnetSpec::default()
    };
    devnet::init(dir.path(), &spec).expect("devnet init");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_koinos-chain"))
        .parent()
        .unwrap();
    let mut node = Node::new(dir.path(), bin_dir);
    // No producer: a still head, and the CPU left to the calls being measured.
    for service in ["block_store", "mempool", "chain", "jsonrpc"] {
        node.start(service).expect("start service");
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_client::head_height(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "node did not come up:\n{}",
            node.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let conn = Connection::connect_supervised(&vhost.amqp_url()).unwrap();
    conn.wait_connected(Duration::from_secs(15)).await.unwrap();
    let client = RpcClient::new(&conn);
    let request = ChainRequest {
        request: Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {})),
    }
    .encode_to_vec();
    let direct = measure(|done, stop_at| {
        let (client, request) = (client.clone(), request.clone());
        async move {
            while Instant::now() < stop_at {
                let reply = client
                    .call(
                        "chain",
                        &request,
                        CallOptions::timeout(Duration::from_secs(5)),
                    )
                    .await
                    .expect("direct call");
                let response = ChainResponse::decode(reply.as_slice()).expect("response");
                assert!(matches!(
                    response.response,
                    Some(chain_response::Response::GetHeadInfo(_))
                ));
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
    .await;

    let body = r#"{"jsonrpc":"2.0","id":1,"method":"chain.get_head_info","params":{}}"#;
    let gateway = measure(|done, stop_at| async move {
        let mut connection = KeepAlive::connect(addr).await;
        while Instant::now() < stop_at {
            let reply = connection.post(body).await;
            assert!(reply.contains(r#""result""#), "{reply}");
            done.fetch_add(1, Ordering::Relaxed);
        }
    })
    .await;

    println!(
        "jsonrpc benchmark ({CONCURRENCY} concurrent callers, {MEASURE:?} window, debug={})",
        cfg!(debug_assertions)
    );
    println!("  baseline  direct AMQP chain.get_head_info : {direct:>8.0} calls/s");
    println!("  gateway   JSON-RPC chain.get_head_info    : {gateway:>8.0} requests/s");
    println!(
        "  ratio     gateway / direct AMQP           : {:>8.2}",
        gateway / direct
    );
    conn.close().await;
    node.stop_all();
}
