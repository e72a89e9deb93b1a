//! Translation between JSON-RPC params/results and the microservices' protobuf envelopes, driven
//! by descriptors: `svc.method` becomes the `method` field of `<pkg>.<svc>_request` (package
//! `svc` or `koinos.rpc.svc`), holding `<method>_request` parsed from the params as Koinos JSON;
//! the `<svc>_response` comes back as its `error` or as the `method` field in Koinos JSON.

use std::sync::Arc;

use prost::Message;
use prost::encoding::decode_varint;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, MessageDescriptor, Value};

use koinos_protocol::json::{message_to_value, value_to_message};

use super::envelope::{
    INTERNAL_ERROR, MSG_UNDECODABLE_RESPONSE, MSG_UNEXPECTED_RESPONSE, RpcError,
};
use super::method::{MethodName, RPC_PACKAGE_PREFIX, TranslateError};
use super::transcode::Plans;

/// A method found in the descriptors.
#[derive(Debug, Clone)]
pub struct ResolvedMethod {
    /// The service name: the AMQP routing key is `koinos.rpc.<service>`.
    pub service: String,
    request_envelope: MessageDescriptor,
    request_field: FieldDescriptor,
    response_envelope: MessageDescriptor,
    /// The response envelope's field of the same name, if it is a message.
    result: Option<(FieldDescriptor, MessageDescriptor)>,
}

/// Message lookups over a descriptor pool (the built-in Koinos descriptors, plus any loaded
/// from `basedir/jsonrpc/descriptors`).
#[derive(Debug, Clone)]
pub struct Translator {
    pool: DescriptorPool,
    plans: Arc<Plans>,
}

impl Translator {
    pub fn new(pool: DescriptorPool) -> Self {
        Self {
            pool,
            plans: Arc::default(),
        }
    }

    /// The built-in Koinos descriptors.
    pub fn builtin() -> Self {
        Self::new(koinos_protocol::descriptor_pool().clone())
    }

    fn envelope(&self, service: &str, suffix: &str) -> Option<MessageDescriptor> {
        [
            format!("{service}.{service}_{suffix}"),
            format!("{RPC_PACKAGE_PREFIX}{service}.{service}_{suffix}"),
        ]
        .iter()
        .find_map(|name| self.pool.get_message_by_name(name))
    }

    /// Finds `<svc>_request` and its `method` field (of type `<method>_request`), and the
    /// matching `<svc>_response`.
    pub fn resolve(&self, name: &MethodName) -> Result<ResolvedMethod, TranslateError> {
        let request_envelope = self
            .envelope(&name.service, "request")
            .ok_or(TranslateError::InvalidService)?;
        let response_envelope = self
            .envelope(&name.service, "response")
            .ok_or(TranslateError::InvalidService)?;
        let request_field = request_envelope
            .get_field_by_name(&name.method)
            .filter(|field| {
                field.containing_oneof().is_some()
                    && field
                        .kind()
                        .as_message()
                        .is_some_and(|m| m.name() == format!("{}_request", name.method))
            })
            .ok_or(TranslateError::UnknownMethod)?;
        let result = response_envelope
            .get_field_by_name(request_field.name())
            .and_then(|field| Some((field.clone(), field.kind().as_message()?.clone())));
        Ok(ResolvedMethod {
            service: name.service.clone(),
            request_envelope,
            request_field,
            response_envelope,
            result,
        })
    }

    /// Parses `params` (a JSON object; absent or `null` means `{}`) as `<method>_request` in
    /// Koinos JSON and wraps it in the service's request envelope.
    pub fn encode_request(
        &self,
        method: &ResolvedMethod,
        params: Option<&str>,
    ) -> Result<Vec<u8>, TranslateError> {
        let Some(inner) = method.request_field.kind().as_message().cloned() else {
            return Err(TranslateError::UnknownMethod);
        };
        let params = params
            .map(str::trim)
            .filter(|p| *p != "null")
            .unwrap_or("{}");
        let value: serde_json::Value =
            serde_json::from_str(params).map_err(|e| TranslateError::BadParams(e.to_string()))?;
        if !value.is_object() {
            return Err(TranslateError::BadParams("params must be an object".into()));
        }
        let request = value_to_message(&inner, &value)
            .map_err(|e| TranslateError::BadParams(e.to_string()))?;
        let mut envelope = DynamicMessage::new(method.request_envelope.clone());
        envelope.set_field(&method.request_field, Value::Message(request));
        Ok(envelope.encode_to_vec())
    }

    /// Turns a `<svc>_response` into the JSON-RPC result (Koinos JSON of the `method` field)
    /// or error (`-32603` with the service's message and data).
    pub fn decode_response(
        &self,
        method: &ResolvedMethod,
        bytes: &[u8],
    ) -> Result<String, RpcError> {
        if let Some(result) = self.transcode_result(method, bytes) {
            return Ok(result);
        }
        let unexpected = || RpcError::new(INTERNAL_ERROR, MSG_UNEXPECTED_RESPONSE, "");
        let envelope =
            DynamicMessage::decode(method.response_envelope.clone(), bytes).map_err(|e| {
                tracing::debug!(service = %method.service, error = %e, "undecodable response");
                RpcError::new(INTERNAL_ERROR, MSG_UNDECODABLE_RESPONSE, "")
            })?;
        if let Some(error_field) = method.response_envelope.get_field_by_name("error")
            && envelope.has_field(&error_field)
        {
            let error = envelope.get_field(&error_field);
            let error = error.as_message().ok_or_else(unexpected)?;
            let text = |name: &str| {
                error
                    .get_field_by_name(name)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            return Err(RpcError::new(INTERNAL_ERROR, text("message"), text("data")));
        }
        let result_field = method
            .response_envelope
            .get_field_by_name(method.request_field.name())
            .ok_or_else(unexpected)?;
        if !envelope.has_field(&result_field) {
            return Err(unexpected());
        }
        let result = envelope.get_field(&result_field);
        let result = result.as_message().ok_or_else(unexpected)?;
        let result = message_to_value(result)
            .map_err(|e| RpcError::new(INTERNAL_ERROR, MSG_UNEXPECTED_RESPONSE, e.to_string()))?;
        Ok(result.to_string())
    }

    /// The fast path of [`Translator::decode_response`] for the usual reply, an envelope
    /// holding only the method's result: its Koinos JSON written straight from the bytes
    /// ([`transcode`](super::transcode)). `None` for anything else.
    fn transcode_result(&self, method: &ResolvedMethod, bytes: &[u8]) -> Option<String> {
        let (field, desc) = method.result.as_ref()?;
        let mut buf = bytes;
        let key = decode_varint(&mut buf).ok()?;
        let len = usize::try_from(decode_varint(&mut buf).ok()?).ok()?;
        if key != (u64::from(field.number()) << 3 | 2) || len != buf.len() {
            return None;
        }
        let mut out = Vec::with_capacity(bytes.len() * 2);
        self.plans.message_to_json(desc, buf, &mut out).ok()?;
        String::from_utf8(out).ok()
    }
}
