//! What every service process shares: flags and config, logging, the admin endpoint, the
//! broker connection and orderly shutdown. A service binary is a call to [`run`]:
//!
//! ```no_run
//! use koinos_protocol::pb::koinos::rpc::block_store::{BlockStoreRequest, BlockStoreResponse};
//! use koinos_services::mq::typed::{Handler, RpcError};
//! use koinos_services::runtime::{self, NoArgs};
//!
//! struct BlockStore;
//!
//! impl Handler for BlockStore {
//!     type Request = BlockStoreRequest;
//!     type Response = BlockStoreResponse;
//!     async fn handle(&self, _: BlockStoreRequest) -> Result<BlockStoreResponse, RpcError> {
//!         Err(RpcError::new("not implemented"))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     runtime::run::<NoArgs, _, _>("block_store", |service| async move {
//!         service.serve(BlockStore).await // ready, serving until SIGTERM, then drained
//!     })
//! }
//! ```
//!
//! [`run`] parses flags and `config.yml` (exit 64 with a message on bad config, before any
//! network I/O), initializes logging, serves `/metrics`, `/healthz`, `/readyz` on the
//! metrics address, connects to the broker in the background, and on SIGTERM or SIGINT drains
//! (servers stop consuming and finish in-flight requests) and closes the connection.

mod admin;
pub mod config;
mod telemetry;

pub use admin::{Readiness, spawn as spawn_admin};
pub use config::{CommonArgs, ConfigError, NoArgs, ServiceArgs, Settings};
/// The process's Prometheus registry, served on `/metrics`: kept by the messaging layer.
pub use koinos_mq::metrics;

use crate::mq::{self, Broadcaster, Connection, RpcClient, Subscriber};
use std::future::Future;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Exit code for unusable configuration (`EX_USAGE`).
pub const EXIT_CONFIG: u8 = 64;

/// A running service: its settings, broker connection and readiness.
#[derive(Debug)]
pub struct Service<A> {
    /// Resolved configuration.
    pub settings: Settings<A>,
    /// The supervised broker connection.
    pub conn: Connection,
    /// What `/readyz` reports.
    pub readiness: Readiness,
}

impl<A> Service<A> {
    /// Marks the service ready and serves its RPC queue until shutdown, then drains.
    pub async fn serve<H: mq::typed::Handler>(&self, handler: H) -> anyhow::Result<()> {
        self.readiness.set(true);
        mq::typed::serve_queue(
            &self.conn,
            self.settings.service,
            &self.settings.rpc_queue,
            self.settings.jobs,
            handler,
        )
        .await?;
        Ok(())
    }

    /// A new RPC client (one reply queue): create it once and clone it.
    pub fn client(&self) -> RpcClient {
        RpcClient::new(&self.conn)
    }

    /// A broadcaster on `koinos.event`.
    pub fn broadcaster(&self) -> Broadcaster {
        Broadcaster::new(&self.conn)
    }

    /// A subscription to `bindings` on `koinos.event`.
    pub fn subscribe(&self, bindings: &[&str]) -> Subscriber {
        Subscriber::subscribe(&self.conn, bindings)
    }

    /// Cancelled on SIGTERM/SIGINT: background loops stop when it fires.
    pub fn shutdown(&self) -> CancellationToken {
        self.conn.draining()
    }
}

/// Runs a service process; see the module docs. `body` returns when the service is done
/// (normally after shutdown drained it).
pub fn run<A, F, Fut>(service: &'static str, body: F) -> ExitCode
where
    A: ServiceArgs,
    F: FnOnce(Service<A>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let settings = match config::load::<A>(service, std::env::args_os()) {
        Ok(settings) => settings,
        Err(err) if err.is_informational() => {
            print!("{err}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("koinos-{service}: configuration error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(&settings.log_level);
    tracing::info!(
        service,
        version = env!("CARGO_PKG_VERSION"),
        instance = %settings.instance_id,
        basedir = %settings.basedir.display(),
        jobs = settings.jobs,
        "starting"
    );
    let runtime = match build_runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("koinos-{service}: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(start(settings, body)) {
        Ok(()) => {
            tracing::info!(service, "stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(service, error = format!("{err:#}"), "failed");
            ExitCode::FAILURE
        }
    }
}

/// Overrides the runtime flavour: `KOINOS_WORKER_THREADS=<n>` runs `n` worker threads.
pub const WORKER_THREADS_ENV: &str = "KOINOS_WORKER_THREADS";

/// The async runtime of a service process: one thread (plus the blocking pool, where store
/// work and other blocking calls go, and lapin's I/O thread per broker connection).
///
/// A service's requests are short and mostly wait on the broker: on a multi-threaded runtime
/// every message woke an idle worker, and thread switches were the largest cost of a trivial
/// request (the chain used ~100 µs of CPU per `get_chain_id`, ~30 µs on one thread; see
/// docs/performance.md). Long CPU-bound work belongs on the blocking pool either way.
fn build_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::env::var(WORKER_THREADS_ENV)
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0);
    match workers {
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
}

async fn start<A, F, Fut>(settings: Settings<A>, body: F) -> anyhow::Result<()>
where
    F: FnOnce(Service<A>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let conn = Connection::connect_supervised_with(&settings.amqp, settings.amqp_ca.as_ref())?;
    let readiness = Readiness::new(&conn);
    let admin = admin::spawn(settings.metrics_address, readiness.clone())
        .await
        .map_err(|err| anyhow::anyhow!("admin endpoint on {}: {err}", settings.metrics_address))?;
    tracing::info!(%admin, "serving /metrics, /healthz, /readyz");
    tokio::spawn(drain_on_signal(conn.clone()));
    let result = body(Service {
        settings,
        conn: conn.clone(),
        readiness,
    })
    .await;
    conn.close().await;
    result
}

/// First SIGTERM/SIGINT: drain. Second: exit at once.
async fn drain_on_signal(conn: Connection) {
    shutdown_signal().await;
    tracing::info!("shutdown requested: draining");
    conn.begin_drain();
    shutdown_signal().await;
    tracing::warn!("second signal: exiting without draining");
    std::process::exit(130);
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
