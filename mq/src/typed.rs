//! Typed RPC on top of the byte-level server and client: `<svc>_request` / `<svc>_response`
//! envelopes (prost messages).
//!
//! - [`Handler`]: `async fn handle(&self, request) -> Result<response, RpcError>`, plain Rust,
//!   unit-testable with [`dispatch`] and no broker.
//! - [`serve`] answers every request: a malformed body (truncated protobuf) or an unknown or
//!   empty oneof gets an `error` response, the `reserved` ping gets `reserved`, a handler error
//!   becomes an `error` response, a handler panic an `error` "internal error". Counted in
//!   `koinos_<svc>_rpc_requests_total{method,outcome}` (outcome ok, error, malformed, panic).
//! - [`TypedClient`] calls a service and turns an `error` response into [`CallError::Remote`].
//!
//! The envelope shape is described by [`RequestEnvelope`] / [`ResponseEnvelope`], implemented
//! for the Koinos service envelopes (`koinos_protocol::pb::koinos::rpc::<svc>`).

use crate::metrics::RpcMetrics;
use crate::{CallOptions, MqError, RpcClient, RpcServer, envelopes};
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

/// A `<svc>_request` envelope: a oneof whose field 1 is `reserved`.
pub trait RequestEnvelope: prost::Message + prost::Name + Default + Send + 'static {
    /// Whether a oneof variant is set; a variant unknown to this build decodes as unset.
    fn is_set(&self) -> bool;
    /// Whether this is the `reserved` ping.
    fn is_reserved(&self) -> bool;
    /// The `reserved` ping.
    fn reserved() -> Self;
}

/// A `<svc>_response` envelope: a oneof with `reserved = 1` and `error = 2`.
pub trait ResponseEnvelope: prost::Message + Default + Send + 'static {
    /// The `reserved` reply.
    fn reserved() -> Self;
    /// An `error` response.
    fn error(error: &RpcError) -> Self;
    /// The error message if this is an `error` response.
    fn error_message(&self) -> Option<&str>;
}

/// A failed request, answered as `error_status{message, data}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    /// `error_status.message`.
    pub message: String,
    /// `error_status.data` (deprecated upstream; empty unless a caller relies on it).
    pub data: String,
}

impl RpcError {
    /// An error with `message` and no data.
    pub fn new(message: impl Into<String>) -> RpcError {
        RpcError {
            message: message.into(),
            data: String::new(),
        }
    }
}

impl From<anyhow::Error> for RpcError {
    fn from(err: anyhow::Error) -> Self {
        RpcError::new(format!("{err:#}"))
    }
}

/// Domain logic of one service; never sees AMQP.
pub trait Handler: Send + Sync + 'static {
    /// `<svc>_request`.
    type Request: RequestEnvelope;
    /// `<svc>_response`.
    type Response: ResponseEnvelope;
    /// Handles one request other than `reserved`.
    fn handle(
        &self,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Response, RpcError>> + Send;
}

/// Serves `handler` on `koinos.rpc.<service>` with `jobs` concurrent handlers until the
/// connection drains (see [`RpcServer::serve`]).
pub async fn serve<H: Handler>(
    conn: &crate::Connection,
    service: &str,
    jobs: usize,
    handler: H,
) -> Result<(), MqError> {
    serve_queue(
        conn,
        service,
        &crate::topology::rpc_queue(service),
        jobs,
        handler,
    )
    .await
}

/// [`serve`] on `queue` instead of `koinos.rpc.<service>` (see [`RpcServer::serve_queue`]).
pub async fn serve_queue<H: Handler>(
    conn: &crate::Connection,
    service: &str,
    queue: &str,
    jobs: usize,
    handler: H,
) -> Result<(), MqError> {
    let metrics = RpcMetrics::for_service(service);
    let handler = Arc::new(handler);
    let options = crate::ServerOptions::new(jobs);
    RpcServer::serve_queue(conn, service, queue, options, move |body: Vec<u8>| {
        let handler = handler.clone();
        let metrics = metrics.clone();
        async move { Some(dispatch(&*handler, &metrics, &body).await) }
    })
    .await
}

/// Decodes `body`, runs `handler` and encodes the reply, exactly as [`serve`] does per request.
pub async fn dispatch<H: Handler>(handler: &H, metrics: &RpcMetrics, body: &[u8]) -> Vec<u8> {
    let started = Instant::now();
    let (method, outcome, response) = answer(handler, body).await;
    metrics.requests.with_label_values(&[method, outcome]).inc();
    metrics
        .duration
        .with_label_values(&[method])
        .observe(started.elapsed().as_secs_f64());
    prost::Message::encode_to_vec(&response)
}

async fn answer<H: Handler>(handler: &H, body: &[u8]) -> (&'static str, &'static str, H::Response) {
    let request = match <H::Request as prost::Message>::decode(body) {
        Ok(request) => request,
        Err(err) => {
            let error = RpcError::new(format!("malformed request: {err}"));
            return ("unknown", "malformed", H::Response::error(&error));
        }
    };
    if !request.is_set() {
        return (
            "unknown",
            "malformed",
            H::Response::error(&RpcError::new("unknown request")),
        );
    }
    if request.is_reserved() {
        return ("reserved", "ok", H::Response::reserved());
    }
    let method = envelopes::method_name::<H::Request>(body);
    let result = AssertUnwindSafe(handler.handle(request))
        .catch_unwind()
        .await;
    match result {
        Ok(Ok(response)) if response.error_message().is_some() => (method, "error", response),
        Ok(Ok(response)) => (method, "ok", response),
        Ok(Err(error)) => (method, "error", H::Response::error(&error)),
        Err(_) => {
            tracing::error!(method, "rpc handler panicked");
            (
                method,
                "panic",
                H::Response::error(&RpcError::new("internal error")),
            )
        }
    }
}

/// Why a typed call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call did not complete (timeout, broker, size).
    #[error(transparent)]
    Mq(#[from] MqError),
    /// The reply is not a valid response envelope.
    #[error("malformed response: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The service answered with an `error` response.
    #[error("{service} returned an error: {message}")]
    Remote {
        /// The called service.
        service: String,
        /// `error_status.message`.
        message: String,
    },
}

/// Calls one service with typed envelopes.
#[derive(Debug, Clone)]
pub struct TypedClient<Req, Resp> {
    client: RpcClient,
    service: String,
    options: CallOptions,
    _types: std::marker::PhantomData<fn(Req) -> Resp>,
}

impl<Req: RequestEnvelope, Resp: ResponseEnvelope> TypedClient<Req, Resp> {
    /// A client of `service` that uses `options` for every call.
    pub fn new(client: &RpcClient, service: &str, options: CallOptions) -> Self {
        TypedClient {
            client: client.clone(),
            service: service.to_owned(),
            options,
            _types: std::marker::PhantomData,
        }
    }

    /// Sends `request`; an `error` response becomes [`CallError::Remote`].
    pub async fn call(&self, request: &Req) -> Result<Resp, CallError> {
        let body = prost::Message::encode_to_vec(request);
        let reply = self.client.call(&self.service, &body, self.options).await?;
        let response = Resp::decode(reply.as_slice())?;
        match response.error_message() {
            Some(message) => Err(CallError::Remote {
                service: self.service.clone(),
                message: message.to_owned(),
            }),
            None => Ok(response),
        }
    }

    /// Sends the `reserved` ping; any answer (even an `error`, as the Go services send) means
    /// the service is up.
    pub async fn ping(&self) -> Result<(), CallError> {
        match self.call(&Req::reserved()).await {
            Ok(_) | Err(CallError::Remote { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
#[path = "typed_tests.rs"]
mod tests;
