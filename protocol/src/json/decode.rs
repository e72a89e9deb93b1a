//! Koinos JSON -> DynamicMessage.

use std::collections::HashMap;

use prost::Message;
use prost::bytes::Bytes;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value as PValue,
};
use serde_json::{Map, Value};

use super::JsonError;
use super::bytes::BytesType;

const ANY: &str = "google.protobuf.Any";

/// Parses Koinos JSON into a dynamic message of type `desc`. Keys may be proto or lowerCamel
/// names; unknown keys and `null` values are ignored; two members of one oneof are an error.
pub fn value_to_message(
    desc: &MessageDescriptor,
    value: &Value,
) -> Result<DynamicMessage, JsonError> {
    parse_message(desc, value, desc.full_name())
}

fn parse_message(
    desc: &MessageDescriptor,
    value: &Value,
    path: &str,
) -> Result<DynamicMessage, JsonError> {
    let Value::Object(object) = value else {
        return Err(JsonError::ExpectedObject(path.to_owned()));
    };
    if desc.full_name() == ANY {
        return parse_any(desc, object, path);
    }
    let mut message = DynamicMessage::new(desc.clone());
    let mut oneofs_seen: HashMap<String, String> = HashMap::new();
    for (key, item) in object {
        let Some(field) = desc
            .get_field_by_name(key)
            .or_else(|| desc.get_field_by_json_name(key))
        else {
            continue;
        };
        if item.is_null() {
            continue;
        }
        let field_path = format!("{path}.{}", field.name());
        if let Some(oneof) = field.containing_oneof()
            && let Some(previous) = oneofs_seen.insert(oneof.name().to_owned(), key.clone())
        {
            return Err(JsonError::field(
                &field_path,
                format!("oneof `{}` already set by `{previous}`", oneof.name()),
            ));
        }
        let parsed = parse_field(&field, item, &field_path)?;
        message.set_field(&field, parsed);
    }
    Ok(message)
}

fn parse_field(field: &FieldDescriptor, value: &Value, path: &str) -> Result<PValue, JsonError> {
    if field.is_map() {
        let Value::Object(entries) = value else {
            return Err(JsonError::field(path, "expected an object for a map"));
        };
        let entry = field.kind();
        let entry = entry.as_message().expect("map fields have entry messages");
        let (key_field, value_field) = (entry.map_entry_key_field(), entry.map_entry_value_field());
        let mut map = HashMap::new();
        for (key, item) in entries {
            let key = parse_map_key(&key_field.kind(), key, path)?;
            map.insert(key, parse_single(&value_field, item, path)?);
        }
        return Ok(PValue::Map(map));
    }
    if field.is_list() {
        let Value::Array(items) = value else {
            return Err(JsonError::field(path, "expected an array"));
        };
        return items
            .iter()
            .map(|item| parse_single(field, item, path))
            .collect::<Result<Vec<_>, _>>()
            .map(PValue::List);
    }
    parse_single(field, value, path)
}

fn parse_single(field: &FieldDescriptor, value: &Value, path: &str) -> Result<PValue, JsonError> {
    let bad = |what: &str| JsonError::field(path, format!("expected {what}, got {value}"));
    Ok(match field.kind() {
        Kind::Bool => PValue::Bool(value.as_bool().ok_or_else(|| bad("a boolean"))?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            let n = parse_integer(value).ok_or_else(|| bad("a 32-bit integer"))?;
            PValue::I32(i32::try_from(n).map_err(|_| bad("a 32-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let n = parse_integer(value).ok_or_else(|| bad("an unsigned 32-bit integer"))?;
            PValue::U32(u32::try_from(n).map_err(|_| bad("an unsigned 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            let n = parse_integer(value).ok_or_else(|| bad("a 64-bit integer"))?;
            PValue::I64(i64::try_from(n).map_err(|_| bad("a 64-bit integer"))?)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let n = parse_integer(value).ok_or_else(|| bad("an unsigned 64-bit integer"))?;
            PValue::U64(u64::try_from(n).map_err(|_| bad("an unsigned 64-bit integer"))?)
        }
        Kind::Float => PValue::F32(parse_float(value).ok_or_else(|| bad("a number"))? as f32),
        Kind::Double => PValue::F64(parse_float(value).ok_or_else(|| bad("a number"))?),
        Kind::String => PValue::String(value.as_str().ok_or_else(|| bad("a string"))?.to_owned()),
        Kind::Bytes => {
            let text = value.as_str().ok_or_else(|| bad("a string"))?;
            let bytes = BytesType::of_field(field)
                .decode(text)
                .map_err(|reason| JsonError::field(path, reason))?;
            PValue::Bytes(Bytes::from(bytes))
        }
        Kind::Enum(e) => match value {
            Value::String(name) => PValue::EnumNumber(
                e.get_value_by_name(name)
                    .ok_or_else(|| bad(&format!("a value of enum `{}`", e.full_name())))?
                    .number(),
            ),
            _ => {
                let n = parse_integer(value).ok_or_else(|| bad("an enum name or number"))?;
                PValue::EnumNumber(i32::try_from(n).map_err(|_| bad("an enum number"))?)
            }
        },
        Kind::Message(desc) => PValue::Message(parse_message(&desc, value, path)?),
    })
}

/// An integer from a JSON number or a decimal string (koilib sends some 64-bit values as
/// numbers); integral floats such as `1e3` are accepted like protojson does.
fn parse_integer(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().and_then(integral_float)),
        Value::String(s) => s
            .parse::<i128>()
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(integral_float)),
        _ => None,
    }
}

fn integral_float(x: f64) -> Option<i128> {
    (x.is_finite() && x.fract() == 0.0 && x.abs() < 2f64.powi(64)).then_some(x as i128)
}

fn parse_float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

fn parse_map_key(kind: &Kind, key: &str, path: &str) -> Result<MapKey, JsonError> {
    let bad = || JsonError::field(path, format!("invalid map key `{key}`"));
    Ok(match kind {
        Kind::Bool => MapKey::Bool(key.parse().map_err(|_| bad())?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(key.parse().map_err(|_| bad())?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(key.parse().map_err(|_| bad())?),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(key.parse().map_err(|_| bad())?),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(key.parse().map_err(|_| bad())?),
        Kind::String => MapKey::String(key.to_owned()),
        _ => return Err(bad()),
    })
}

/// `{"@type": url, ...fields}` -> `Any{type_url, value}`, the packed type resolved in the pool.
fn parse_any(
    desc: &MessageDescriptor,
    object: &Map<String, Value>,
    path: &str,
) -> Result<DynamicMessage, JsonError> {
    let mut any = DynamicMessage::new(desc.clone());
    if object.is_empty() {
        return Ok(any);
    }
    let type_url = object
        .get("@type")
        .and_then(Value::as_str)
        .ok_or_else(|| JsonError::field(path, "Any needs an `@type` string"))?;
    let name = type_url.rsplit('/').next().unwrap_or_default();
    let inner_desc = desc
        .parent_pool()
        .get_message_by_name(name)
        .ok_or_else(|| JsonError::UnknownMessage(type_url.to_owned()))?;
    let mut fields = object.clone();
    fields.remove("@type");
    let inner = parse_message(&inner_desc, &Value::Object(fields), path)?;
    any.set_field_by_name("type_url", PValue::String(type_url.to_owned()));
    any.set_field_by_name("value", PValue::Bytes(Bytes::from(inner.encode_to_vec())));
    Ok(any)
}
