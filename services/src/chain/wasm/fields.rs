//! `get_transaction_field` / `get_block_field`: a field of the transaction (or block) named by
//! a dotted path (`header.payer`, `signatures`), as a `value_type` the way the official chain
//! builds it: scalars in their own kind, messages packed in an `Any`, enums as an `enum_type`
//! in an `Any`, repeated fields as a `list_type` of those in an `Any`.

use koinos_protocol::chain::{EnumType, ListType, ValueType, value_type::Kind as V};
use prost::Message;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};

use super::super::error::{ChainError, ChainResult, code};

fn any(full_name: &str, value: Vec<u8>) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{full_name}"),
        value,
    }
}

fn not_found(message: &str) -> ChainError {
    ChainError::new(code::FIELD_NOT_FOUND, message)
}

/// The field at `path` of `message` (a prost message of the protocol's descriptor pool).
pub fn nested_field_value<M: Message>(
    message: &M,
    descriptor: MessageDescriptor,
    path: &str,
) -> ChainResult<ValueType> {
    let mut current = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|e| ChainError::internal(format!("message does not decode: {e}")))?;
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let field = current
            .descriptor()
            .get_field_by_name(segment)
            .ok_or_else(|| {
                not_found("unable to find field ${fname}").with_param("fname", *segment)
            })?;
        if i + 1 == segments.len() {
            return field_value(&current, &field);
        }
        if field.is_list() || !matches!(field.kind(), Kind::Message(_)) {
            return Err(not_found("expected nested field to be within a message"));
        }
        let next = match current.get_field(&field).into_owned() {
            Value::Message(m) => m,
            _ => return Err(not_found("expected nested field to be within a message")),
        };
        current = next;
    }
    Err(not_found("unable to find field ${fname}").with_param("fname", path))
}

fn field_value(message: &DynamicMessage, field: &FieldDescriptor) -> ChainResult<ValueType> {
    let value = message.get_field(field);
    if field.is_list() {
        let items = value.as_list().unwrap_or_default();
        let values = items
            .iter()
            .map(|item| scalar(&field.kind(), item))
            .collect::<ChainResult<Vec<_>>>()?;
        let list = ListType { values };
        return Ok(ValueType {
            kind: Some(V::MessageValue(any(
                "koinos.chain.list_type",
                list.encode_to_vec(),
            ))),
        });
    }
    scalar(&field.kind(), &value)
}

fn scalar(kind: &Kind, value: &Value) -> ChainResult<ValueType> {
    let unexpected = || {
        ChainError::new(
            code::REVERSION,
            "attempted to retrieve the value of an unexpected field type",
        )
    };
    let kind = match (kind, value) {
        (Kind::Int64, Value::I64(v)) => V::Int64Value(*v),
        (Kind::Uint64, Value::U64(v)) => V::Uint64Value(*v),
        (Kind::Int32, Value::I32(v)) => V::Int32Value(*v),
        (Kind::Fixed64, Value::U64(v)) => V::Fixed64Value(*v),
        (Kind::Fixed32, Value::U32(v)) => V::Fixed32Value(*v),
        (Kind::Bool, Value::Bool(v)) => V::BoolValue(*v),
        (Kind::String, Value::String(v)) => V::StringValue(v.clone()),
        (Kind::Bytes, Value::Bytes(v)) => V::BytesValue(v.to_vec()),
        (Kind::Uint32, Value::U32(v)) => V::Uint32Value(*v),
        (Kind::Sfixed32, Value::I32(v)) => V::Sfixed32Value(*v),
        (Kind::Sfixed64, Value::I64(v)) => V::Sfixed64Value(*v),
        (Kind::Sint32, Value::I32(v)) => V::Sint32Value(*v),
        (Kind::Sint64, Value::I64(v)) => V::Sint64Value(*v),
        (Kind::Message(descriptor), Value::Message(m)) => {
            V::MessageValue(any(descriptor.full_name(), m.encode_to_vec()))
        }
        (Kind::Enum(descriptor), Value::EnumNumber(number)) => {
            let name = descriptor
                .get_value(*number)
                .map(|v| v.name().to_owned())
                .unwrap_or_default();
            let e = EnumType {
                name,
                number: *number,
            };
            V::MessageValue(any("koinos.chain.enum_type", e.encode_to_vec()))
        }
        _ => return Err(unexpected()),
    };
    Ok(ValueType { kind: Some(kind) })
}
