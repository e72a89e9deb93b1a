//! DynamicMessage -> Koinos JSON.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value as PValue,
};
use serde_json::{Map, Number, Value};

use super::JsonError;
use super::bytes::BytesType;

const ANY: &str = "google.protobuf.Any";

/// Koinos JSON of a dynamic message: set fields only (see the module docs for the rules).
pub fn message_to_value(message: &DynamicMessage) -> Result<Value, JsonError> {
    let desc = message.descriptor();
    if desc.full_name() == ANY {
        return any_to_value(message);
    }
    let mut object = Map::new();
    for field in desc.fields() {
        if !message.has_field(&field) {
            continue;
        }
        let value = field_to_value(&field, message.get_field(&field).as_ref())?;
        object.insert(field.name().to_owned(), value);
    }
    Ok(Value::Object(object))
}

fn field_to_value(field: &FieldDescriptor, value: &PValue) -> Result<Value, JsonError> {
    match value {
        PValue::List(items) => items
            .iter()
            .map(|item| single_to_value(field, &field.kind(), item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        PValue::Map(entries) => {
            let entry = field.kind();
            let value_field = entry
                .as_message()
                .expect("map fields have entry messages")
                .map_entry_value_field();
            let mut object = Map::new();
            for (key, item) in entries {
                let rendered = single_to_value(&value_field, &value_field.kind(), item)?;
                object.insert(map_key_to_string(key), rendered);
            }
            Ok(Value::Object(object))
        }
        single => single_to_value(field, &field.kind(), single),
    }
}

fn single_to_value(
    field: &FieldDescriptor,
    kind: &Kind,
    value: &PValue,
) -> Result<Value, JsonError> {
    Ok(match value {
        PValue::Bool(b) => Value::Bool(*b),
        PValue::I32(n) => Value::from(*n),
        PValue::U32(n) => Value::from(*n),
        // Every 64-bit integer is a string, whatever its jstype.
        PValue::I64(n) => Value::String(n.to_string()),
        PValue::U64(n) => Value::String(n.to_string()),
        PValue::F32(x) => float_to_value(f64::from(*x)),
        PValue::F64(x) => float_to_value(*x),
        PValue::String(s) => Value::String(s.clone()),
        PValue::Bytes(b) => Value::String(BytesType::of_field(field).encode(b)),
        PValue::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => Value::String(v.name().to_owned()),
            None => Value::from(*n),
        },
        PValue::Message(m) => message_to_value(m)?,
        PValue::List(_) | PValue::Map(_) => {
            return Err(JsonError::field(field.full_name(), "nested repeated value"));
        }
    })
}

fn float_to_value(x: f64) -> Value {
    match Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn map_key_to_string(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

/// `{"@type": url, ...fields of the packed message}`, the packed type resolved in the same pool.
fn any_to_value(any: &DynamicMessage) -> Result<Value, JsonError> {
    let type_url = any
        .get_field_by_name("type_url")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let packed = any
        .get_field_by_name("value")
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    if type_url.is_empty() && packed.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let name = type_url.rsplit('/').next().unwrap_or_default();
    let desc = any
        .descriptor()
        .parent_pool()
        .get_message_by_name(name)
        .ok_or_else(|| JsonError::UnknownMessage(type_url.clone()))?;
    let inner = DynamicMessage::decode(desc, packed.as_ref()).map_err(|source| {
        JsonError::DecodeProtobuf {
            message: name.to_owned(),
            source,
        }
    })?;
    let mut object = Map::new();
    object.insert("@type".into(), Value::String(type_url));
    match message_to_value(&inner)? {
        Value::Object(fields) => object.extend(fields),
        other => {
            return Err(JsonError::field(
                "@type",
                format!("unexpected value {other}"),
            ));
        }
    }
    Ok(Value::Object(object))
}
