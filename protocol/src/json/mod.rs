//! Koinos JSON (docs/protocol.md "Koinos JSON"): protojson as the Koinos protobuf-go fork writes it.
//!
//! - field names are the proto (snake_case) names; input also accepts lowerCamel names and
//!   discards unknown fields;
//! - `bytes` are rendered per the field's `(koinos.btype)` option ([`bytes`]);
//! - every 64-bit integer is a JSON string on output; on input a string or a number;
//! - defaults, empty repeated fields and unset messages are omitted; oneof members and
//!   `optional` fields are written whenever set;
//! - enums are names (input: name or number); `Any` is `{"@type": url, ...fields}`.
//!
//! Works on any message of a [`DescriptorPool`](prost_reflect::DescriptorPool) carrying the
//! `koinos.btype` extension, so the JSON-RPC gateway can translate descriptors it loads at run
//! time as well as the built-in types.

pub mod bytes;
mod decode;
mod encode;

use prost::{Message, Name};
use prost_reflect::{DynamicMessage, MessageDescriptor};
use serde_json::Value;

use crate::pb::descriptor_pool;

pub use bytes::BytesType;
pub use decode::value_to_message;
pub use encode::message_to_value;

/// Why a message could not be translated to or from Koinos JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("unknown message type `{0}`")]
    UnknownMessage(String),
    #[error("invalid protobuf bytes for `{message}`: {source}")]
    DecodeProtobuf {
        message: String,
        #[source]
        source: prost::DecodeError,
    },
    #[error("field `{path}`: {reason}")]
    InvalidField { path: String, reason: String },
    #[error("expected a JSON object for `{0}`")]
    ExpectedObject(String),
}

impl JsonError {
    fn field(path: &str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The descriptor of a built-in Koinos message by full name (e.g. `koinos.protocol.block`).
pub fn message_descriptor(full_name: &str) -> Result<MessageDescriptor, JsonError> {
    descriptor_pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| JsonError::UnknownMessage(full_name.to_owned()))
}

/// Koinos JSON of a generated message.
pub fn to_value<M: Message + Name>(message: &M) -> Result<Value, JsonError> {
    to_value_by_name(&M::full_name(), &message.encode_to_vec())
}

/// Parses Koinos JSON into a generated message.
pub fn from_value<M: Message + Name + Default>(value: &Value) -> Result<M, JsonError> {
    let bytes = from_value_by_name(&M::full_name(), value)?;
    M::decode(bytes.as_slice()).map_err(|source| JsonError::DecodeProtobuf {
        message: M::full_name(),
        source,
    })
}

/// Koinos JSON text of a generated message.
pub fn to_string<M: Message + Name>(message: &M) -> Result<String, JsonError> {
    Ok(to_value(message)?.to_string())
}

/// Parses Koinos JSON text into a generated message.
pub fn from_str<M: Message + Name + Default>(text: &str) -> Result<M, JsonError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| JsonError::field("<document>", e.to_string()))?;
    from_value(&value)
}

/// Koinos JSON of serialized protobuf `bytes` of the built-in message `full_name`.
pub fn to_value_by_name(full_name: &str, bytes: &[u8]) -> Result<Value, JsonError> {
    let desc = message_descriptor(full_name)?;
    bytes_to_value(&desc, bytes)
}

/// Serialized protobuf bytes of the built-in message `full_name` parsed from Koinos JSON.
pub fn from_value_by_name(full_name: &str, value: &Value) -> Result<Vec<u8>, JsonError> {
    let desc = message_descriptor(full_name)?;
    value_to_bytes(&desc, value)
}

/// Koinos JSON of serialized protobuf `bytes` of the message `desc` (any pool).
pub fn bytes_to_value(desc: &MessageDescriptor, bytes: &[u8]) -> Result<Value, JsonError> {
    let message = DynamicMessage::decode(desc.clone(), bytes).map_err(|source| {
        JsonError::DecodeProtobuf {
            message: desc.full_name().to_owned(),
            source,
        }
    })?;
    message_to_value(&message)
}

/// Serialized protobuf bytes of the message `desc` (any pool) parsed from Koinos JSON.
pub fn value_to_bytes(desc: &MessageDescriptor, value: &Value) -> Result<Vec<u8>, JsonError> {
    Ok(value_to_message(desc, value)?.encode_to_vec())
}

#[cfg(test)]
mod tests;
