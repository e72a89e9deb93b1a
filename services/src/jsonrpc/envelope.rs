//! The JSON-RPC 2.0 envelope as the official gateway (koinos-jsonrpc, Go) reads and writes it:
//! request parsing with Go `encoding/json` semantics, id validation, error codes and the reply
//! envelope with the id echoed verbatim.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The body could not be parsed as a request object (also batches: they are arrays).
pub const PARSE_ERROR: i32 = -32700;
/// The id is missing or of the wrong type, or `jsonrpc` is not "2.0".
pub const INVALID_REQUEST: i32 = -32600;
/// The method could not be translated (bad name, unknown, not allowed, bad params).
pub const METHOD_NOT_FOUND: i32 = -32601;
/// The request is larger than the maximum message size.
pub const INVALID_PARAMS: i32 = -32602;
/// The microservice call failed or the service returned an error.
pub const INTERNAL_ERROR: i32 = -32603;

pub const MSG_PARSE: &str = "Unable to parse request";
pub const MSG_INVALID_REQUEST: &str = "Invalid request";
pub const MSG_TRANSLATE: &str = "Unable to translate request";
/// The official gateway's message for a request over the maximum message size; its data is
/// the "parameters could not be parsed" string of a bad-params translation error.
pub const MSG_OVERSIZE: &str = "Request exceeds maximum message size";
pub const DATA_OVERSIZE: &str = "parameters could not be parsed";
pub const MSG_INTERNAL: &str = "An internal server error has occurred";
pub const MSG_UNEXPECTED_RESPONSE: &str = "Unexpected response";
/// A service response that does not decode: the official gateway sends its protobuf decoder's
/// error text as the message, with no data; this is the text for malformed wire data.
pub const MSG_UNDECODABLE_RESPONSE: &str = "proto: cannot parse invalid wire-format data";

pub const DATA_MISSING_ID: &str = "missing ID";
pub const DATA_INVALID_ID: &str = "invalid ID was specified";
pub const DATA_FRACTIONAL_ID: &str = "ID must not contain fractional parts";
pub const DATA_UNSUPPORTED_ID: &str = "an ID must be a Number (non-fractional), String, or Null";
pub const DATA_INVALID_VERSION: &str = "invalid or missing JSON RPC version was specified";

/// A JSON-RPC error object; `data` is always a string in this gateway (or absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i32,
    pub message: String,
    pub data: Option<String>,
}

impl RpcError {
    pub fn new(code: i32, message: impl Into<String>, data: impl Into<String>) -> Self {
        let data = data.into();
        Self {
            code,
            message: message.into(),
            data: (!data.is_empty()).then_some(data),
        }
    }
}

/// The error for a request over the maximum message size, as the official gateway sends it.
pub fn oversize_error() -> RpcError {
    RpcError::new(INVALID_PARAMS, MSG_OVERSIZE, DATA_OVERSIZE)
}

/// A parsed and validated request. `id` is the raw JSON text, echoed back unchanged.
#[derive(Debug)]
pub struct Request<'a> {
    pub id: &'a RawValue,
    pub method: String,
    pub params: Option<&'a RawValue>,
}

/// A request that was rejected before translation: the error plus the id to echo (`None` means
/// JSON `null`, used when the id itself is at fault).
#[derive(Debug)]
pub struct Rejection<'a> {
    pub id: Option<&'a RawValue>,
    pub error: RpcError,
}

/// The top-level object's members, in document order (Go assigns them in order: the last
/// duplicate wins, and keys match field names case-insensitively).
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MembersVisitor<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON-RPC request object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Members(members))
            }
            // Go decodes a top-level `null` into the request struct as a no-op.
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Members(Vec::new()))
            }
        }
        deserializer.deserialize_any(MembersVisitor(std::marker::PhantomData))
    }
}

impl<'a> Members<'a> {
    /// The last member whose key equals `name`, ignoring ASCII case (Go prefers an exact match
    /// only within one key; across duplicates the last one assigned wins).
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

fn parse_error(data: String) -> Rejection<'static> {
    Rejection {
        id: None,
        error: RpcError::new(PARSE_ERROR, MSG_PARSE, data),
    }
}

/// A member that Go decodes into a `string` field: absent or `null` is "", anything but a
/// string is an unmarshal (parse) error.
fn string_member(members: &Members<'_>, name: &str) -> Result<String, Rejection<'static>> {
    let Some(raw) = members.get(name) else {
        return Ok(String::new());
    };
    match serde_json::from_str::<Option<String>>(raw.get()) {
        Ok(value) => Ok(value.unwrap_or_default()),
        Err(_) => Err(parse_error(format!(
            "json: cannot unmarshal {} into Go struct field GenericRequest.{name} of type string",
            json_kind(raw.get())
        ))),
    }
}

fn json_kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "bool",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// Checks an id the way the official gateway does; `Err` carries the `data` string.
fn validate_id(raw: &RawValue) -> Result<(), &'static str> {
    let value: serde_json::Value = serde_json::from_str(raw.get()).map_err(|_| DATA_INVALID_ID)?;
    match value {
        serde_json::Value::String(_) | serde_json::Value::Null => Ok(()),
        serde_json::Value::Number(number) => {
            // Go reads every number as float64 and requires float64(int64(x)) == x.
            let x = number.as_f64().ok_or(DATA_INVALID_ID)?;
            const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
            if x.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&x) {
                Ok(())
            } else {
                Err(DATA_FRACTIONAL_ID)
            }
        }
        _ => Err(DATA_UNSUPPORTED_ID),
    }
}

/// Parses and validates a request body (steps 1–3 of the gateway's request flow).
pub fn parse_request(body: &[u8]) -> Result<Request<'_>, Rejection<'_>> {
    let members: Members<'_> =
        serde_json::from_slice(body).map_err(|e| parse_error(e.to_string()))?;
    let jsonrpc = string_member(&members, "jsonrpc")?;
    let method = string_member(&members, "method")?;
    let params = members.get("params");

    let invalid = |data: &str, id| Rejection {
        id,
        error: RpcError::new(INVALID_REQUEST, MSG_INVALID_REQUEST, data),
    };
    let Some(id) = members.get("id") else {
        return Err(invalid(DATA_MISSING_ID, None));
    };
    validate_id(id).map_err(|data| invalid(data, None))?;
    if jsonrpc != "2.0" {
        return Err(invalid(DATA_INVALID_VERSION, Some(id)));
    }
    Ok(Request { id, method, params })
}

/// Serializes the reply envelope `{"jsonrpc":"2.0","result"|"error":…,"id":…}`; `result` must
/// be JSON text. A missing id is written as `null`.
pub fn write_response(id: Option<&RawValue>, outcome: Result<&str, &RpcError>) -> String {
    let id = id.map_or("null", RawValue::get);
    match outcome {
        Ok(result) => format!(r#"{{"jsonrpc":"2.0","result":{result},"id":{id}}}"#),
        Err(error) => {
            // Field order as the Go gateway writes it: code, message, data.
            let quote = |text: &str| serde_json::Value::from(text).to_string();
            let data = error
                .data
                .as_deref()
                .map(|data| format!(r#","data":{}"#, quote(data)))
                .unwrap_or_default();
            format!(
                r#"{{"jsonrpc":"2.0","error":{{"code":{},"message":{}{data}}},"id":{id}}}"#,
                error.code,
                quote(&error.message)
            )
        }
    }
}

/// The reply to a rejected request.
pub fn write_rejection(rejection: &Rejection<'_>) -> String {
    write_response(rejection.id, Err(&rejection.error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(body: &str) -> (i32, Option<String>, Option<String>) {
        let rejection = parse_request(body.as_bytes()).expect_err("request must be rejected");
        (
            rejection.error.code,
            rejection.error.data,
            rejection.id.map(|id| id.get().to_owned()),
        )
    }

    #[test]
    fn accepts_string_integer_and_null_ids() {
        for id in [r#""abc""#, "7", "-3", "1.0", "1e2", "null"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"chain.get_head_info"}}"#);
            let request = parse_request(body.as_bytes()).expect("valid request");
            assert_eq!(request.id.get(), id);
            assert_eq!(request.method, "chain.get_head_info");
            assert!(request.params.is_none());
        }
    }

    #[test]
    fn rejects_bad_ids_with_null_id_and_documented_data() {
        let cases = [
            (r#"{"jsonrpc":"2.0","method":"a.b"}"#, DATA_MISSING_ID),
            (r#"{"jsonrpc":"2.0","id":1.5}"#, DATA_FRACTIONAL_ID),
            (
                r#"{"jsonrpc":"2.0","id":9223372036854775807}"#,
                DATA_FRACTIONAL_ID,
            ),
            (r#"{"jsonrpc":"2.0","id":1e400}"#, DATA_INVALID_ID),
            (r#"{"jsonrpc":"2.0","id":true}"#, DATA_UNSUPPORTED_ID),
            (r#"{"jsonrpc":"2.0","id":[1]}"#, DATA_UNSUPPORTED_ID),
            (r#"{"jsonrpc":"2.0","id":{"a":1}}"#, DATA_UNSUPPORTED_ID),
            ("null", DATA_MISSING_ID),
        ];
        for (body, data) in cases {
            assert_eq!(
                reject(body),
                (INVALID_REQUEST, Some(data.to_owned()), None),
                "{body}"
            );
        }
    }

    #[test]
    fn wrong_version_echoes_the_id() {
        for body in [
            r#"{"id":"x","method":"a.b"}"#,
            r#"{"jsonrpc":"1.0","id":"x"}"#,
            r#"{"jsonrpc":null,"id":"x"}"#,
        ] {
            assert_eq!(
                reject(body),
                (
                    INVALID_REQUEST,
                    Some(DATA_INVALID_VERSION.to_owned()),
                    Some(r#""x""#.to_owned())
                )
            );
        }
    }

    #[test]
    fn unparsable_bodies_and_batches_are_parse_errors() {
        for body in [
            "",
            "{",
            "[]",
            r#"[{"jsonrpc":"2.0","id":1,"method":"chain.get_head_info"}]"#,
            "\"text\"",
            "42",
            r#"{"jsonrpc":2.0,"id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            "{\"jsonrpc\":\"2.0\",\"id\":1}garbage",
        ] {
            let (code, data, id) = reject(body);
            assert_eq!((code, id), (PARSE_ERROR, None), "{body}");
            assert!(data.is_some());
        }
    }

    #[test]
    fn keys_match_case_insensitively_and_the_last_duplicate_wins() {
        let body = r#"{"JSONRPC":"2.0","Id":1,"id":2,"Method":"chain.get_chain_id","params":{}}"#;
        let request = parse_request(body.as_bytes()).unwrap();
        assert_eq!(request.id.get(), "2");
        assert_eq!(request.method, "chain.get_chain_id");
        assert_eq!(request.params.unwrap().get(), "{}");
    }

    #[test]
    fn response_envelope_echoes_the_id_verbatim() {
        let id = RawValue::from_string("1.0".into()).unwrap();
        assert_eq!(
            write_response(Some(&id), Ok("{}")),
            r#"{"jsonrpc":"2.0","result":{},"id":1.0}"#
        );
        let error = RpcError::new(INTERNAL_ERROR, "boom", "");
        assert_eq!(
            write_response(None, Err(&error)),
            r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"boom"},"id":null}"#
        );
        let error = RpcError::new(METHOD_NOT_FOUND, MSG_TRANSLATE, "unknown method");
        let reply: serde_json::Value =
            serde_json::from_str(&write_response(Some(&id), Err(&error))).unwrap();
        assert_eq!(reply["error"]["data"], "unknown method");
        assert_eq!(reply["error"]["code"], -32601);
    }
}
