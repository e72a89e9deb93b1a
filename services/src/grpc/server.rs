//! The tonic side of the gateway: a tower service for `koinos.services.koinos` that routes by
//! path to the [`MethodTable`], with a codec that hands message bytes through untouched.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Service, http};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::access::AccessList;
use super::methods::{Method, MethodTable, ResponseError, SERVICE_NAME};
use crate::mq::{CallOptions, MqError, RpcClient};

/// Why a relayed call got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayError {
    Timeout,
    Failed(String),
}

/// Sends a `<service>_request` envelope to `koinos.rpc.<service>` and returns the reply.
pub trait Relay: Send + Sync + 'static {
    fn call(
        &self,
        service: &str,
        envelope: Vec<u8>,
    ) -> impl Future<Output = Result<Bytes, RelayError>> + Send;
}

/// The AMQP relay: one attempt per call with the request expiring after `timeout` (the
/// official gateway's `mq-timeout`, no retry).
#[derive(Debug, Clone)]
pub struct AmqpRelay {
    client: RpcClient,
    timeout: Duration,
}

impl AmqpRelay {
    pub fn new(client: RpcClient, timeout: Duration) -> Self {
        Self { client, timeout }
    }
}

impl Relay for AmqpRelay {
    async fn call(&self, service: &str, envelope: Vec<u8>) -> Result<Bytes, RelayError> {
        match self
            .client
            .call(service, &envelope, CallOptions::timeout(self.timeout))
            .await
        {
            Ok(reply) => Ok(Bytes::from(reply)),
            Err(MqError::Timeout { .. }) => Err(RelayError::Timeout),
            Err(error) => Err(RelayError::Failed(error.to_string())),
        }
    }
}

/// Access control, relay and status mapping, independent of HTTP/2.
pub struct Gateway<R> {
    methods: MethodTable,
    access: AccessList,
    relay: R,
    max_message_size: usize,
}

impl<R: Relay> Gateway<R> {
    pub fn new(
        methods: MethodTable,
        access: AccessList,
        relay: R,
        max_message_size: usize,
    ) -> Self {
        Self {
            methods,
            access,
            relay,
            max_message_size,
        }
    }

    /// One call: the serialized `<method>_request` in, the serialized `<method>_response` out.
    pub async fn handle(&self, method: &Method, request: Bytes) -> Result<Bytes, Status> {
        self.access
            .check(&method.service, &method.name)
            .map_err(|refusal| Status::permission_denied(refusal.message()))?;
        let reply = self
            .relay
            .call(&method.service, method.wrap_request(&request))
            .await
            .map_err(|error| match error {
                RelayError::Timeout => Status::deadline_exceeded(format!(
                    "{} did not answer {} in time",
                    method.service, method.name
                )),
                RelayError::Failed(message) => Status::unavailable(message),
            })?;
        method.unwrap_response(reply).map_err(|error| match error {
            ResponseError::Service(message) => Status::invalid_argument(message),
            ResponseError::Unexpected => Status::internal("unexpected response type"),
            ResponseError::Malformed(detail) => Status::internal(format!(
                "the {} response could not be decoded: {detail}",
                method.service
            )),
        })
    }
}

/// The `koinos.services.koinos` service, cheap to clone (tonic clones it per connection).
pub struct KoinosService<R> {
    gateway: Arc<Gateway<R>>,
}

impl<R> Clone for KoinosService<R> {
    fn clone(&self) -> Self {
        Self {
            gateway: self.gateway.clone(),
        }
    }
}

impl<R: Relay> KoinosService<R> {
    pub fn new(gateway: Gateway<R>) -> Self {
        Self {
            gateway: Arc::new(gateway),
        }
    }
}

impl<R> NamedService for KoinosService<R> {
    const NAME: &'static str = SERVICE_NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<R: Relay> Service<http::Request<Body>> for KoinosService<R> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let gateway = self.gateway.clone();
        Box::pin(async move {
            let path = request.uri().path();
            let name = path
                .strip_prefix(SERVICE_NAME)
                .and_then(|rest| rest.strip_prefix('/'))
                .or_else(|| path.rsplit('/').next())
                .unwrap_or_default();
            let Some(method) = gateway.methods.get(name).cloned() else {
                return Ok(Status::unimplemented(format!("unknown method {name}")).into_http());
            };
            let limit = gateway.max_message_size;
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit);
            Ok(grpc.unary(UnaryCall { gateway, method }, request).await)
        })
    }
}

struct UnaryCall<R> {
    gateway: Arc<Gateway<R>>,
    method: Method,
}

impl<R: Relay> UnaryService<Bytes> for UnaryCall<R> {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let gateway = self.gateway.clone();
        let method = self.method.clone();
        Box::pin(async move {
            gateway
                .handle(&method, request.into_inner())
                .await
                .map(Response::new)
        })
    }
}

/// Message bytes in and out as they are: the gateway never decodes a request or a result.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        *self
    }

    fn decoder(&mut self) -> RawCodec {
        *self
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
