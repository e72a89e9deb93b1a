//! One JSON-RPC request from body to reply: validate, translate, call the microservice over
//! the transport, translate the reply. [`Gateway::prepare`] and [`Gateway::finish`] are pure, so
//! every error path is unit-tested without a broker.

use std::collections::HashMap;
use std::future::Future;
use std::sync::RwLock;
use std::time::Duration;

use serde_json::value::RawValue;

use super::config::GatewayOptions;
use super::envelope::{
    INTERNAL_ERROR, METHOD_NOT_FOUND, MSG_INTERNAL, MSG_TRANSLATE, RpcError, oversize_error,
    parse_request, write_rejection, write_response,
};
use super::method::{AccessList, MethodName, TranslateError};
use super::translate::{ResolvedMethod, Translator};

/// The data string of a call that got no reply in time; koilib looks for this exact text to
/// treat a submitted transaction as possibly accepted.
pub const DATA_DEADLINE_EXCEEDED: &str = "rpc failed, context deadline exceeded";

/// Why a microservice call produced no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No reply within the timeout.
    Timeout,
    /// The call could not be made (e.g. no broker connection).
    Failed(String),
}

/// Sends a serialized `<service>_request` to `koinos.rpc.<service>` and returns the reply bytes.
pub trait RpcTransport: Send + Sync + 'static {
    fn call(
        &self,
        service: &str,
        request: Vec<u8>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<u8>, CallError>> + Send;
}

/// A translated request, ready to send.
#[derive(Debug)]
pub struct PreparedCall<'a> {
    pub id: &'a RawValue,
    pub method: ResolvedMethod,
    pub request: Vec<u8>,
}

/// The gateway: options, access lists, message translation and a transport.
pub struct Gateway<T> {
    options: GatewayOptions,
    access: AccessList,
    translator: Translator,
    /// Methods resolved so far, by (service, method): a descriptor lookup costs several string
    /// allocations and map lookups per request. Only methods found are kept, so the map is
    /// bounded by the descriptors' methods.
    resolved: RwLock<HashMap<(String, String), ResolvedMethod>>,
    transport: T,
}

impl<T> Gateway<T> {
    pub fn new(options: GatewayOptions, translator: Translator, transport: T) -> Self {
        let access = AccessList::new(&options.whitelist, &options.blacklist);
        Self {
            options,
            access,
            translator,
            resolved: RwLock::default(),
            transport,
        }
    }

    fn resolve(&self, name: MethodName) -> Result<ResolvedMethod, TranslateError> {
        let key = (name.service, name.method);
        if let Some(method) = self.resolved.read().expect("resolved lock").get(&key) {
            return Ok(method.clone());
        }
        let name = MethodName {
            service: key.0,
            method: key.1,
        };
        let method = self.translator.resolve(&name)?;
        self.resolved
            .write()
            .expect("resolved lock")
            .insert((name.service, name.method), method.clone());
        Ok(method)
    }

    pub fn options(&self) -> &GatewayOptions {
        &self.options
    }

    /// Steps 1–7: parse and validate, resolve the method, check the access lists, encode the
    /// params. `Err` is the complete JSON reply.
    pub fn prepare<'a>(&self, body: &'a [u8]) -> Result<PreparedCall<'a>, String> {
        let request = parse_request(body).map_err(|rejection| write_rejection(&rejection))?;
        let untranslatable = |error: TranslateError| {
            let error = RpcError::new(METHOD_NOT_FOUND, MSG_TRANSLATE, error.data());
            write_response(Some(request.id), Err(&error))
        };
        let name = MethodName::parse(&request.method).map_err(untranslatable)?;
        let full_name = name.full_name();
        let method = self.resolve(name).map_err(untranslatable)?;
        self.access.check(&full_name).map_err(untranslatable)?;
        let params = request.params.map(RawValue::get);
        let encoded = self
            .translator
            .encode_request(&method, params)
            .map_err(untranslatable)?;
        if encoded.len() > self.options.max_request_size {
            return Err(write_response(Some(request.id), Err(&oversize_error())));
        }
        Ok(PreparedCall {
            id: request.id,
            method,
            request: encoded,
        })
    }

    /// Steps 8–10: turn the call's outcome into the JSON reply.
    pub fn finish(&self, call: &PreparedCall<'_>, outcome: Result<Vec<u8>, CallError>) -> String {
        let reply = match outcome {
            Err(CallError::Timeout) => Err(RpcError::new(
                INTERNAL_ERROR,
                MSG_INTERNAL,
                DATA_DEADLINE_EXCEEDED,
            )),
            Err(CallError::Failed(reason)) => Err(RpcError::new(
                INTERNAL_ERROR,
                MSG_INTERNAL,
                format!("rpc failed, {reason}"),
            )),
            Ok(bytes) => self.translator.decode_response(&call.method, &bytes),
        };
        match reply {
            Ok(result) => write_response(Some(call.id), Ok(&result)),
            Err(error) => write_response(Some(call.id), Err(&error)),
        }
    }
}

impl<T: RpcTransport> Gateway<T> {
    /// Handles one request body and returns the JSON-RPC reply.
    pub async fn handle(&self, body: &[u8]) -> String {
        let mut call = match self.prepare(body) {
            Ok(call) => call,
            Err(reply) => return reply,
        };
        let request = std::mem::take(&mut call.request);
        let outcome = self
            .transport
            .call(&call.method.service, request, self.options.call_timeout())
            .await;
        self.finish(&call, outcome)
    }
}
