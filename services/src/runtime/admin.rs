//! The admin HTTP endpoint: `/metrics` (Prometheus text), `/healthz` (the process runs) and
//! `/readyz` (the service declared itself ready and the broker is connected).

use super::metrics;
use crate::mq::Connection;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Readiness as `/readyz` reports it; cheap to clone.
#[derive(Clone, Debug)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
    conn: Connection,
}

impl Readiness {
    /// Not ready until [`Readiness::set`]; never ready while the broker is disconnected.
    pub fn new(conn: &Connection) -> Readiness {
        Readiness {
            ready: Arc::new(AtomicBool::new(false)),
            conn: conn.clone(),
        }
    }

    /// Declares the service (not) ready, e.g. false while a store catches up.
    pub fn set(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// What `/readyz` answers.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) && self.conn.is_connected()
    }
}

/// Binds `address` and serves the admin endpoints in the background; returns the bound
/// address (useful with port 0).
pub async fn spawn(address: SocketAddr, readiness: Readiness) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route(
            "/metrics",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
                    metrics::render(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                if readiness.is_ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "admin server stopped");
        }
    });
    Ok(bound)
}
