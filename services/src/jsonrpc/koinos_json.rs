//! Koinos JSON (protocol reference §4) for any message in a descriptor pool, by reflection:
//! proto field names on output (snake_case or lowerCamel accepted on input), bytes encoded per
//! the field's `(koinos.btype)` option, 64-bit integers as strings, defaults omitted, enums
//! as names, unknown input fields discarded.
//!
//! The gateway needs this for arbitrary `service.method` messages, including ones from
//! descriptor files loaded at run time, so it works on `prost_reflect` dynamic messages.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

/// How a `bytes` field is written (`koinos.bytes_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BytesFormat {
    Base64Url,
    Base58,
    Hex,
}

fn format_of(btype: i32) -> BytesFormat {
    match btype {
        1 | 5 | 6 => BytesFormat::Base58,
        2..=4 => BytesFormat::Hex,
        _ => BytesFormat::Base64Url,
    }
}

/// A descriptor pool plus each field's bytes format, read once from the options.
#[derive(Debug, Clone)]
pub struct KoinosJson {
    pool: DescriptorPool,
    bytes_formats: HashMap<String, BytesFormat>,
}

impl KoinosJson {
    pub fn new(pool: DescriptorPool) -> Self {
        let mut bytes_formats = HashMap::new();
        if let Some(btype) = pool.get_extension_by_name("koinos.btype") {
            for message in pool.all_messages() {
                for field in message.fields() {
                    let options = field.options();
                    if options.has_extension(&btype)
                        && let Some(value) = options.get_extension(&btype).as_enum_number()
                    {
                        bytes_formats.insert(field.full_name().to_owned(), format_of(value));
                    }
                }
            }
        }
        Self {
            pool,
            bytes_formats,
        }
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    fn bytes_format(&self, field: &FieldDescriptor) -> BytesFormat {
        self.bytes_formats
            .get(field.full_name())
            .copied()
            .unwrap_or(BytesFormat::Base64Url)
    }

    /// Writes `message` as Koinos JSON.
    pub fn to_json(&self, message: &DynamicMessage) -> Json {
        let mut object = Map::new();
        for (field, value) in message.fields() {
            // `fields()` yields only populated fields: defaults of implicit-presence fields
            // are not stored, set oneof members and `optional` fields are.
            if let Value::List(items) = value
                && items.is_empty()
            {
                continue;
            }
            object.insert(field.name().to_owned(), self.value_to_json(&field, value));
        }
        Json::Object(object)
    }

    fn value_to_json(&self, field: &FieldDescriptor, value: &Value) -> Json {
        match value {
            Value::List(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.value_to_json(field, item))
                    .collect(),
            ),
            Value::Map(entries) => {
                let value_field = field
                    .kind()
                    .as_message()
                    .map(|entry| entry.map_entry_value_field());
                let object = entries
                    .iter()
                    .map(|(key, value)| {
                        let key = match key {
                            prost_reflect::MapKey::String(s) => s.clone(),
                            prost_reflect::MapKey::Bool(b) => b.to_string(),
                            prost_reflect::MapKey::I32(n) => n.to_string(),
                            prost_reflect::MapKey::I64(n) => n.to_string(),
                            prost_reflect::MapKey::U32(n) => n.to_string(),
                            prost_reflect::MapKey::U64(n) => n.to_string(),
                        };
                        let value = match &value_field {
                            Some(value_field) => self.value_to_json(value_field, value),
                            None => Json::Null,
                        };
                        (key, value)
                    })
                    .collect();
                Json::Object(object)
            }
            Value::Bool(b) => Json::Bool(*b),
            Value::I32(n) => Json::from(*n),
            Value::U32(n) => Json::from(*n),
            Value::I64(n) => Json::String(n.to_string()),
            Value::U64(n) => Json::String(n.to_string()),
            Value::F32(x) => float_json(f64::from(*x)),
            Value::F64(x) => float_json(*x),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(bytes) => Json::String(match self.bytes_format(field) {
                BytesFormat::Base64Url => URL_SAFE.encode(bytes),
                BytesFormat::Base58 => bs58::encode(bytes).into_string(),
                BytesFormat::Hex => format!("0x{}", hex::encode(bytes)),
            }),
            Value::EnumNumber(number) => match field.kind().as_enum() {
                Some(enumeration) => match enumeration.get_value(*number) {
                    Some(value) => Json::String(value.name().to_owned()),
                    None => Json::from(*number),
                },
                None => Json::from(*number),
            },
            Value::Message(message) => self.to_json(message),
        }
    }

    /// Parses Koinos JSON into a message of type `descriptor`.
    pub fn from_json(
        &self,
        descriptor: &MessageDescriptor,
        json: &Json,
    ) -> Result<DynamicMessage, String> {
        let Json::Object(object) = json else {
            return Err(format!("{}: expected an object", descriptor.full_name()));
        };
        let mut message = DynamicMessage::new(descriptor.clone());
        for (key, value) in object {
            let field = descriptor
                .get_field_by_name(key)
                .or_else(|| descriptor.get_field_by_json_name(key));
            let Some(field) = field else { continue };
            if value.is_null() {
                continue;
            }
            let parsed = if field.is_list() {
                let Json::Array(items) = value else {
                    return Err(format!("{key}: expected an array"));
                };
                let items = items
                    .iter()
                    .map(|item| self.single_from_json(&field, item))
                    .collect::<Result<Vec<_>, _>>()?;
                Value::List(items)
            } else if field.is_map() {
                return Err(format!("{key}: map fields are not supported"));
            } else {
                self.single_from_json(&field, value)?
            };
            message.set_field(&field, parsed);
        }
        Ok(message)
    }

    fn single_from_json(&self, field: &FieldDescriptor, json: &Json) -> Result<Value, String> {
        let name = field.name();
        let bad = |what: &str| format!("{name}: invalid {what} {json}");
        Ok(match field.kind() {
            Kind::Bool => Value::Bool(json.as_bool().ok_or_else(|| bad("bool"))?),
            Kind::String => Value::String(json.as_str().ok_or_else(|| bad("string"))?.to_owned()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
                integer(json)
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| bad("int32"))?,
            ),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(
                integer(json)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad("uint32"))?,
            ),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
                integer(json)
                    .and_then(|n| i64::try_from(n).ok())
                    .ok_or_else(|| bad("int64"))?,
            ),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(
                integer(json)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| bad("uint64"))?,
            ),
            Kind::Float => Value::F32(float(json).ok_or_else(|| bad("float"))? as f32),
            Kind::Double => Value::F64(float(json).ok_or_else(|| bad("double"))?),
            Kind::Bytes => {
                let text = json.as_str().ok_or_else(|| bad("bytes"))?;
                let bytes = match self.bytes_format(field) {
                    BytesFormat::Base64Url => URL_SAFE.decode(text).map_err(|_| bad("base64"))?,
                    BytesFormat::Base58 => {
                        bs58::decode(text).into_vec().map_err(|_| bad("base58"))?
                    }
                    BytesFormat::Hex => text
                        .strip_prefix("0x")
                        .and_then(|hex_text| hex::decode(hex_text).ok())
                        .ok_or_else(|| bad("hex"))?,
                };
                Value::Bytes(bytes.into())
            }
            Kind::Enum(enumeration) => {
                let number = match json {
                    Json::String(text) => enumeration.get_value_by_name(text).map(|v| v.number()),
                    _ => integer(json).and_then(|n| i32::try_from(n).ok()),
                };
                Value::EnumNumber(number.ok_or_else(|| bad("enum value"))?)
            }
            Kind::Message(descriptor) => Value::Message(self.from_json(&descriptor, json)?),
        })
    }

    /// The descriptor of the message named `full_name`.
    pub fn message(&self, full_name: &str) -> Option<MessageDescriptor> {
        self.pool.get_message_by_name(full_name)
    }

    /// Koinos JSON of a generated (prost) message, through its descriptor.
    pub fn encode_typed<M: prost::Message + prost::Name>(&self, message: &M) -> Option<Json> {
        let descriptor = self.message(&M::full_name())?;
        let dynamic =
            DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).ok()?;
        Some(self.to_json(&dynamic))
    }
}

fn float_json(x: f64) -> Json {
    Number::from_f64(x).map_or_else(|| Json::String(x.to_string()), Json::Number)
}

/// An integer given as a JSON number (integral) or a decimal string.
fn integer(json: &Json) -> Option<i128> {
    match json {
        Json::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|x| x.fract() == 0.0 && x.abs() < 1.9e19)
                    .map(|x| x as i128)
            }),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The descriptor pool of every built-in Koinos message.
pub fn builtin_pool() -> DescriptorPool {
    DescriptorPool::decode(koinos_protocol::FILE_DESCRIPTOR_SET)
        .expect("the built-in descriptor set decodes")
}

/// True if `message` is of type `full_name` (used by tests on decoded envelopes).
pub fn is_message(message: &DynamicMessage, full_name: &str) -> bool {
    message.descriptor().full_name() == full_name
}

#[cfg(test)]
mod tests {
    use super::*;
    use koinos_protocol::pb::koinos::rpc::chain::GetHeadInfoResponse;
    use koinos_protocol::{BlockTopology, TransactionHeader};

    fn codec() -> KoinosJson {
        KoinosJson::new(builtin_pool())
    }

    #[test]
    fn bytes_follow_the_btype_and_u64_are_strings() {
        let info = GetHeadInfoResponse {
            head_topology: Some(BlockTopology {
                id: vec![0x12, 0x20, 0xab],
                height: 7,
                previous: vec![],
            }),
            last_irreversible_block: 0,
            head_state_merkle_root: vec![0xfb, 0xff],
            head_block_time: 1_700_000_000_000,
        };
        let json = codec().encode_typed(&info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "head_topology": {"id": "0x1220ab", "height": "7"},
                "head_state_merkle_root": "-_8=",
                "head_block_time": "1700000000000"
            })
        );
    }

    #[test]
    fn parses_camel_and_snake_names_numbers_or_strings_and_ignores_unknown_fields() {
        let codec = codec();
        let descriptor = codec.message("koinos.protocol.transaction_header").unwrap();
        let address = bs58::encode([0u8; 25]).into_string();
        let json = serde_json::json!({
            "rcLimit": 100, "nonce": "KAE=", "payer": address, "extra": [1, 2]
        });
        let message = codec.from_json(&descriptor, &json).unwrap();
        let header: TransactionHeader = message.transcode_to().unwrap();
        assert_eq!(header.rc_limit, 100);
        assert_eq!(header.nonce, vec![0x28, 0x01]);
        assert_eq!(header.payer, vec![0u8; 25]);
        let json = serde_json::json!({"rc_limit": "18446744073709551615"});
        let header: TransactionHeader = codec
            .from_json(&descriptor, &json)
            .unwrap()
            .transcode_to()
            .unwrap();
        assert_eq!(header.rc_limit, u64::MAX);
    }

    #[test]
    fn rejects_wrong_encodings() {
        let codec = codec();
        let header = codec.message("koinos.protocol.transaction_header").unwrap();
        for bad in [
            serde_json::json!({"nonce": "KAE"}),
            serde_json::json!({"nonce": "+/8="}),
            serde_json::json!({"payer": "0OIl"}),
            serde_json::json!({"rc_limit": -1}),
            serde_json::json!({"rc_limit": 1.5}),
            serde_json::json!({"rc_limit": true}),
        ] {
            assert!(codec.from_json(&header, &bad).is_err(), "{bad}");
        }
        let topology = codec.message("koinos.block_topology").unwrap();
        assert!(
            codec
                .from_json(&topology, &serde_json::json!({"id": "1220"}))
                .is_err()
        );
        assert!(codec.from_json(&topology, &serde_json::json!([1])).is_err());
    }
}
