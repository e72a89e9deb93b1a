//! The HTTP side of the gateway: every method but OPTIONS carries a JSON-RPC request (HTTP 200
//! with a JSON-RPC reply); OPTIONS is 204; CORS headers on everything; the body is read with a
//! size limit; a bounded pool of jobs with HTTP 504 when none frees up in time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::envelope::{oversize_error, write_response};
use super::gateway::{Gateway, RpcTransport};

/// The HTTP front of a [`Gateway`].
pub struct HttpFront<T> {
    gateway: Gateway<T>,
    jobs: Semaphore,
}

fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Authorization"),
    );
    response
}

enum BodyError {
    TooLarge,
    Unreadable,
}

/// Reads at most `limit` bytes; stops reading (and drops the connection's remaining body) as
/// soon as the limit is passed, so a huge body costs no more than `limit` bytes of memory.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut collected = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if collected.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.into())
}

fn json_reply(text: String) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

async fn handle<T: RpcTransport>(
    State(front): State<Arc<HttpFront<T>>>,
    method: Method,
    body: Body,
) -> Response {
    if method == Method::OPTIONS {
        return with_cors(StatusCode::NO_CONTENT.into_response());
    }
    let options = front.gateway.options();
    let body = match read_limited(body, options.max_request_size).await {
        Ok(body) => body,
        // Not read past the limit, so there is no id to echo: the official gateway's error
        // with a null id.
        Err(BodyError::TooLarge) => {
            return with_cors(json_reply(write_response(None, Err(&oversize_error()))));
        }
        Err(BodyError::Unreadable) => {
            return with_cors(
                (StatusCode::BAD_REQUEST, "unable to read request body").into_response(),
            );
        }
    };
    let permit = match tokio::time::timeout(options.gateway_timeout, front.jobs.acquire()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => {
            return with_cors(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
        Err(_) => return with_cors(StatusCode::GATEWAY_TIMEOUT.into_response()),
    };
    let reply = front.gateway.handle(&body).await;
    drop(permit);
    with_cors(json_reply(reply))
}

/// The axum router serving `gateway` at its configured endpoint (`/` serves every path).
pub fn router<T: RpcTransport>(gateway: Gateway<T>) -> Router {
    let jobs = Semaphore::new(gateway.options().jobs.max(1));
    let endpoint = gateway.options().endpoint.clone();
    let front = Arc::new(HttpFront { gateway, jobs });
    let any = axum::routing::any(handle::<T>);
    let router = if endpoint == "/" || endpoint.is_empty() {
        Router::new().fallback(any)
    } else {
        Router::new().route(&endpoint, any)
    };
    router.with_state(front)
}

/// Binds `listen` and serves `gateway` until `shutdown` resolves, then finishes the requests
/// in flight. Returns the bound address through `on_bound` (useful with port 0).
pub async fn serve<T: RpcTransport>(
    gateway: Gateway<T>,
    listen: SocketAddr,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, router(gateway))
        .with_graceful_shutdown(shutdown)
        .await
}
