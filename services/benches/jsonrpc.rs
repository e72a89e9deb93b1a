//! The request path end to end: JSON-RPC over HTTP keep-alive → koinos-jsonrpc → RabbitMQ →
//! a service → back, against a devnet of our release binaries (block_store, mempool, chain,
//! jsonrpc; no producer, so the CPU goes to the calls measured).
//!
//! `cargo bench -p koinos-services --bench jsonrpc` (needs RabbitMQ on 127.0.0.1:5672 and
//! `rabbitmqctl`; `BENCH_SECONDS` sets the measurement window, default 3, `BENCH_ROUNDS` the
//! rounds, default 3, each figure being the median round by ratio; `BENCH_BIN_DIR` runs
//! the binaries of another build, e.g. a copy of the previous ones, for a before/after).
//!
//! Printed, each next to a baseline measured in the same run at the same concurrency:
//! - `chain.get_chain_id` (a trivial handler) through JSON-RPC at 16, 64 and 256 connections,
//!   as a ratio of the mq runtime's raw RPC rate (our `RpcClient` calling a no-op `RpcServer`
//!   in this process on the same broker: the ceiling for one request and one reply), and of the
//!   same call made directly over AMQP; p50/p99 latency; CPU time per request of the jsonrpc
//!   process, of the chain process (the trivial handler) and of RabbitMQ (from
//!   `/proc/<pid>/stat` over the measurement window);
//! - `block_store.get_blocks_by_height`, pages of 50 blocks with receipts (synthetic blocks of
//!   realistic size, stored through `add_block`), through JSON-RPC at 16 and 64 connections,
//!   as a ratio of the same request made directly over AMQP.

#[path = "support/blocks.rs"]
mod blocks;
#[path = "../tests/node_support/mod.rs"]
mod node_support;
#[path = "support/proc_cpu.rs"]
mod proc_cpu;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use koinos_protocol::pb::koinos::rpc::block_store::{
    AddBlockRequest, BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightRequest,
    block_store_request, block_store_response,
};
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetChainIdRequest, chain_request, chain_response,
};
use koinos_services::block_store::ZERO_BLOCK_ID;
use koinos_services::devnet::launcher::Node;
use koinos_services::devnet::{self, DevnetSpec, http_client};
use koinos_services::mq::{CallOptions, Connection, RpcClient, RpcServer, ServerOptions};
use node_support::Vhost;
use proc_cpu::{cpu_seconds, rabbitmq_pid};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WARMUP: Duration = Duration::from_secs(1);
const CONCURRENCY: [usize; 3] = [16, 64, 256];
const PAGE_CONCURRENCY: [usize; 2] = [16, 64];
const BLOCKS: u64 = 300;
const PAGE: u32 = 50;
const PAYLOAD: &[u8] = &[0x2a; 64];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn measure_window() -> Duration {
    Duration::from_secs(env_number("BENCH_SECONDS", 3))
}

/// The machine may be shared: each figure is the median round, by its ratio to its baseline.
fn rounds() -> usize {
    env_number("BENCH_ROUNDS", 3).max(1) as usize
}

/// The round whose first run has the median ratio to its second.
fn median_by_ratio<T>(mut runs: Vec<(Run, Run, T)>) -> (Run, Run, T) {
    runs.sort_by(|a, b| {
        (a.0.per_second / a.1.per_second).total_cmp(&(b.0.per_second / b.1.per_second))
    });
    runs.swap_remove(runs.len() / 2)
}

/// Latencies of one worker's requests that started and ended inside the measurement window.
struct Recorder {
    start_at: Instant,
    stop_at: Instant,
    latencies: Vec<Duration>,
}

impl Recorder {
    fn new(start_at: Instant, stop_at: Instant) -> Self {
        Self {
            start_at,
            stop_at,
            latencies: Vec::with_capacity(4096),
        }
    }

    /// Records a request that began at `began`; false once the window is over.
    fn record(&mut self, began: Instant) -> bool {
        let now = Instant::now();
        if began >= self.start_at && now <= self.stop_at {
            self.latencies.push(now - began);
        }
        now < self.stop_at
    }
}

struct Run {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// CPU seconds per request of each watched process, in the order given.
    cpu_per_request: Vec<f64>,
}

/// Runs `concurrency` workers (each `worker(recorder)`) through a warm-up and the measurement
/// window, watching the CPU time of `pids` over the window.
async fn measure<W, Fut>(concurrency: usize, pids: &[String], worker: W) -> Run
where
    W: Fn(Recorder) -> Fut,
    Fut: Future<Output = Vec<Duration>> + Send + 'static,
{
    let start_at = Instant::now() + WARMUP;
    let stop_at = start_at + measure_window();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(Recorder::new(start_at, stop_at))))
        .collect();
    tokio::time::sleep_until(start_at.into()).await;
    let cpu_before: Vec<f64> = pids.iter().map(|p| cpu_seconds(p)).collect();
    tokio::time::sleep_until(stop_at.into()).await;
    let cpu_after: Vec<f64> = pids.iter().map(|p| cpu_seconds(p)).collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("worker"));
    }
    latencies.sort();
    let n = latencies.len().max(1);
    let at = |q: f64| {
        latencies
            .get(((n - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Run {
        per_second: latencies.len() as f64 / (stop_at - start_at).as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        cpu_per_request: cpu_before
            .iter()
            .zip(&cpu_after)
            .map(|(b, a)| (a - b) / n as f64)
            .collect(),
    }
}

/// One keep-alive HTTP/1.1 connection posting one JSON-RPC body over and over.
struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// Sends `request` (a complete HTTP request) and returns the response body.
    async fn post(&mut self, request: &[u8]) -> &[u8] {
        self.stream.write_all(request).await.expect("write");
        self.buf.clear();
        let (body_start, length) = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).expect("header");
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .expect("content-length");
                break (end + 4, length);
            }
            self.read_more().await;
        };
        while self.buf.len() < body_start + length {
            self.read_more().await;
        }
        &self.buf[body_start..body_start + length]
    }

    async fn read_more(&mut self) {
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let n = self.stream.read(&mut self.buf[len..]).await.expect("read");
        assert!(n > 0, "connection closed");
        self.buf.truncate(len + n);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn http_request(body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(bench());
}

struct Bench {
    addr: SocketAddr,
    client: RpcClient,
    pids: Vec<String>,
    names: Vec<&'static str>,
}

impl Bench {
    /// JSON-RPC workers posting `bodies[i % len]`, checking each reply has a result.
    async fn jsonrpc(&self, concurrency: usize, bodies: Arc<Vec<Vec<u8>>>) -> Run {
        let addr = self.addr;
        measure(concurrency, &self.pids, |mut rec| {
            let bodies = bodies.clone();
            async move {
                let mut connection = KeepAlive::connect(addr).await;
                let mut i = rand::random::<u32>() as usize;
                loop {
                    i += 1;
                    let began = Instant::now();
                    let reply = connection.post(&bodies[i % bodies.len()]).await;
                    assert!(
                        find(reply, br#""result""#).is_some(),
                        "{}",
                        String::from_utf8_lossy(&reply[..reply.len().min(400)])
                    );
                    if !rec.record(began) {
                        return rec.latencies;
                    }
                }
            }
        })
        .await
    }

    /// Direct AMQP workers calling `service` with `requests[i % len]`; `check` validates.
    async fn direct(
        &self,
        concurrency: usize,
        service: &'static str,
        requests: Arc<Vec<Vec<u8>>>,
        check: fn(&[u8]),
    ) -> Run {
        measure(concurrency, &self.pids, |mut rec| {
            let (client, requests) = (self.client.clone(), requests.clone());
            async move {
                let mut i = rand::random::<u32>() as usize;
                loop {
                    i += 1;
                    let began = Instant::now();
                    let reply = client
                        .call(
                            service,
                            &requests[i % requests.len()],
                            CallOptions::timeout(Duration::from_secs(10)),
                        )
                        .await
                        .expect("direct call");
                    check(&reply);
                    if !rec.record(began) {
                        return rec.latencies;
                    }
                }
            }
        })
        .await
    }
}

fn print_header(names: &[&str]) {
    print!(
        "{:<26} {:>5} {:>9} {:>9} {:>8} {:>8}",
        "path", "conc", "req/s", "x base", "p50 ms", "p99 ms"
    );
    for name in names {
        print!(" {:>10}", format!("{name} µs"));
    }
    println!();
}

fn print_run(path: &str, concurrency: usize, run: &Run, baseline: f64) {
    print!(
        "{path:<26} {concurrency:>5} {:>9.0} {:>9.2} {:>8.2} {:>8.2}",
        run.per_second,
        run.per_second / baseline,
        run.p50.as_secs_f64() * 1e3,
        run.p99.as_secs_f64() * 1e3,
    );
    for cpu in &run.cpu_per_request {
        print!(" {:>10.1}", cpu * 1e6);
    }
    println!();
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
        // The request path is measured, not the token: the native one keeps the figures
        // comparable across runs (benches/chain.rs compares the two tokens).
        token: devnet::DevnetToken::Native,
        ..DevnetSpec::default()
    };
    devnet::init(dir.path(), &spec).expect("devnet init");
    // BENCH_BIN_DIR runs other builds of the binaries (e.g. a copy of the previous ones).
    let bin_dir = std::env::var_os("BENCH_BIN_DIR").map_or_else(
        || {
            Path::new(env!("CARGO_BIN_EXE_koinos-chain"))
                .parent()
                .unwrap()
                .to_path_buf()
        },
        PathBuf::from,
    );
    println!("binaries: {}", bin_dir.display());
    let mut node = Node::new(dir.path(), &bin_dir);
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

    // The baseline: a no-op server of the mq runtime in this process, like benches/rpc.rs.
    let noop = "bench_noop";
    let server_conn = Connection::connect_supervised(&vhost.amqp_url()).unwrap();
    let options = ServerOptions {
        idle_queue_expiry: Some(Duration::from_secs(60)),
        ..ServerOptions::new(256)
    };
    let server = server_conn.clone();
    tokio::spawn(async move {
        RpcServer::serve_with(&server, noop, options, |b: Vec<u8>| async move { Some(b) }).await
    });
    client
        .call(
            noop,
            PAYLOAD,
            CallOptions::koinos_backoff(Duration::from_secs(30)),
        )
        .await
        .expect("no-op server up");

    // Blocks for the pages: a chain of BLOCKS synthetic blocks with receipts.
    let mut previous = ZERO_BLOCK_ID.to_vec();
    for height in 1..=BLOCKS {
        let (block, receipt) = blocks::block_and_receipt(height, previous.clone());
        previous = block.id.clone();
        let request = BlockStoreRequest {
            request: Some(block_store_request::Request::AddBlock(AddBlockRequest {
                block_to_add: Some(block),
                receipt_to_add: Some(receipt),
            })),
        };
        let reply = client
            .call(
                "block_store",
                &request.encode_to_vec(),
                CallOptions::timeout(Duration::from_secs(10)),
            )
            .await
            .expect("add_block");
        let reply = BlockStoreResponse::decode(reply.as_slice()).expect("response");
        assert!(
            matches!(
                reply.response,
                Some(block_store_response::Response::AddBlock(_))
            ),
            "add_block: {reply:?}"
        );
    }
    let head = previous;

    let pid = |service: &str| node.pid(service).expect("running").to_string();
    let mut pids = vec![pid("jsonrpc"), pid("chain"), pid("block_store")];
    let mut names = vec!["jsonrpc", "chain", "block_st"];
    if let Some(rabbit) = rabbitmq_pid() {
        pids.push(rabbit);
        names.push("rabbitmq");
    }
    pids.push("self".into());
    names.push("bench");
    let bench = Bench {
        addr,
        client: client.clone(),
        pids,
        names,
    };

    println!(
        "jsonrpc benchmark: {:?} window after {WARMUP:?} warm-up, median of {} rounds, debug={}; \
         CPU columns: µs of CPU per request of each process",
        measure_window(),
        rounds(),
        cfg!(debug_assertions)
    );
    println!("\n== trivial request (chain.get_chain_id); base = raw mq RPC (no-op server)");
    print_header(&bench.names);
    let chain_id_body = Arc::new(vec![http_request(
        r#"{"jsonrpc":"2.0","id":1,"method":"chain.get_chain_id","params":{}}"#,
    )]);
    let chain_id_request = Arc::new(vec![
        ChainRequest {
            request: Some(chain_request::Request::GetChainId(GetChainIdRequest {})),
        }
        .encode_to_vec(),
    ]);
    let noop_request = Arc::new(vec![PAYLOAD.to_vec()]);
    for concurrency in CONCURRENCY {
        let mut runs = Vec::new();
        for _ in 0..rounds() {
            let raw = bench
                .direct(concurrency, noop, noop_request.clone(), |reply| {
                    assert_eq!(reply, PAYLOAD)
                })
                .await;
            let direct = bench
                .direct(concurrency, "chain", chain_id_request.clone(), |reply| {
                    let response = ChainResponse::decode(reply).expect("response");
                    assert!(matches!(
                        response.response,
                        Some(chain_response::Response::GetChainId(_))
                    ));
                })
                .await;
            let gateway = bench.jsonrpc(concurrency, chain_id_body.clone()).await;
            runs.push((gateway, raw, direct));
        }
        let (gateway, raw, direct) = median_by_ratio(runs);
        print_run("raw mq rpc (base)", concurrency, &raw, raw.per_second);
        print_run(
            "amqp chain.get_chain_id",
            concurrency,
            &direct,
            raw.per_second,
        );
        print_run(
            "jsonrpc chain.get_chain_id",
            concurrency,
            &gateway,
            raw.per_second,
        );
    }

    println!(
        "\n== block_store.get_blocks_by_height, {PAGE} blocks with receipts; base = the same \
         request over AMQP"
    );
    print_header(&bench.names);
    let starts: Vec<u64> = (0..32)
        .map(|i| 1 + i * (BLOCKS - PAGE as u64) / 32)
        .collect();
    let page_request = |start: u64| GetBlocksByHeightRequest {
        head_block_id: head.clone(),
        ancestor_start_height: start,
        num_blocks: PAGE,
        return_block: true,
        return_receipt: true,
    };
    let page_bodies = Arc::new(
        starts
            .iter()
            .map(|&start| {
                http_request(&format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"block_store.get_blocks_by_height","params":{{"head_block_id":"0x{}","ancestor_start_height":{start},"num_blocks":{PAGE},"return_block":true,"return_receipt":true}}}}"#,
                    hex::encode(&head)
                ))
            })
            .collect::<Vec<_>>(),
    );
    let page_requests = Arc::new(
        starts
            .iter()
            .map(|&start| {
                BlockStoreRequest {
                    request: Some(block_store_request::Request::GetBlocksByHeight(
                        page_request(start),
                    )),
                }
                .encode_to_vec()
            })
            .collect::<Vec<_>>(),
    );
    for concurrency in PAGE_CONCURRENCY {
        let mut runs = Vec::new();
        for _ in 0..rounds() {
            let direct = bench
                .direct(concurrency, "block_store", page_requests.clone(), |reply| {
                    let response = BlockStoreResponse::decode(reply).expect("response");
                    let Some(block_store_response::Response::GetBlocksByHeight(page)) =
                        response.response
                    else {
                        panic!("unexpected response {response:?}");
                    };
                    assert_eq!(page.block_items.len(), PAGE as usize);
                })
                .await;
            let gateway = bench.jsonrpc(concurrency, page_bodies.clone()).await;
            runs.push((gateway, direct, ()));
        }
        let (gateway, direct, ()) = median_by_ratio(runs);
        print_run("amqp pages (base)", concurrency, &direct, direct.per_second);
        print_run("jsonrpc pages", concurrency, &gateway, direct.per_second);
    }

    conn.close().await;
    server_conn.close().await;
    node.stop_all();
}
