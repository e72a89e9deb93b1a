//! The methods of `koinos.services.koinos` and the envelope splice that relays them: a call's
//! request message goes into its field of `<service>_request` and the reply's field of
//! `<service>_response` comes back, both as bytes, never decoded.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use koinos_protocol::pb::koinos::rpc::ErrorStatus;
use prost::Message;
use prost::encoding::{
    DecodeContext, WireType, decode_key, decode_varint, encode_key, encode_varint, skip_field,
};
use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

/// The gRPC service name: `/koinos.services.koinos/<method>` is a method's path.
pub const SERVICE_NAME: &str = "koinos.services.koinos";

/// Package prefix of the microservices' RPC messages (`koinos.rpc.<service>`).
const RPC_PACKAGE_PREFIX: &str = "koinos.rpc.";

/// `<service>_response.error` (an `error_status`) in every response envelope.
const ERROR_FIELD: u32 = 2;

/// One relayed method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// The microservice (`chain`), i.e. the queue `koinos.rpc.<service>`.
    pub service: String,
    /// The method (`get_head_info`).
    pub name: String,
    request_field: u32,
    response_field: u32,
}

/// What a response envelope held instead of the method's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The service answered `error` with this message.
    Service(String),
    /// Neither the method's field nor an error (e.g. `reserved`).
    Unexpected,
    /// Not a protobuf message.
    Malformed(String),
}

impl Method {
    /// The `<service>_request` envelope around a serialized `<method>_request` (the field is
    /// written even when the message is empty: it is a oneof member).
    pub fn wrap_request(&self, message: &[u8]) -> Vec<u8> {
        let mut envelope = Vec::with_capacity(message.len() + 16);
        encode_key(self.request_field, WireType::LengthDelimited, &mut envelope);
        encode_varint(message.len() as u64, &mut envelope);
        envelope.extend_from_slice(message);
        envelope
    }

    /// The serialized `<method>_response` inside a `<service>_response` envelope. The last
    /// oneof member on the wire wins, as in protobuf decoding.
    pub fn unwrap_response(&self, mut envelope: Bytes) -> Result<Bytes, ResponseError> {
        let malformed = |e: prost::DecodeError| ResponseError::Malformed(e.to_string());
        let mut outcome = Err(ResponseError::Unexpected);
        while envelope.has_remaining() {
            let (field, wire_type) = decode_key(&mut envelope).map_err(malformed)?;
            if wire_type != WireType::LengthDelimited {
                skip_field(wire_type, field, &mut envelope, DecodeContext::default())
                    .map_err(malformed)?;
                continue;
            }
            let len = decode_varint(&mut envelope).map_err(malformed)? as usize;
            if len > envelope.remaining() {
                return Err(ResponseError::Malformed("truncated field".into()));
            }
            let value = envelope.split_to(len);
            outcome = if field == self.response_field {
                Ok(value)
            } else if field == ERROR_FIELD {
                let status = ErrorStatus::decode(value).map_err(malformed)?;
                Err(ResponseError::Service(status.message))
            } else {
                Err(ResponseError::Unexpected)
            };
        }
        outcome
    }
}

/// Every method of [`SERVICE_NAME`], by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodTable {
    methods: BTreeMap<String, Method>,
}

impl MethodTable {
    /// Reads the service from `pool` and finds each method's envelope fields: the field named
    /// after the method in `koinos.rpc.<service>.<service>_request` / `_response`.
    pub fn from_pool(pool: &DescriptorPool) -> Result<Self, String> {
        let service = pool
            .get_service_by_name(SERVICE_NAME)
            .ok_or_else(|| format!("{SERVICE_NAME} is not in the descriptor set"))?;
        let mut methods = BTreeMap::new();
        for method in service.methods() {
            let input = method.input();
            let package = input.package_name().to_owned();
            let name = method.name().to_owned();
            let service_name = package
                .strip_prefix(RPC_PACKAGE_PREFIX)
                .ok_or_else(|| format!("{name}: {package} is not a microservice package"))?
                .to_owned();
            let field = |suffix: &str, message: &MessageDescriptor| -> Result<u32, String> {
                let envelope_name = format!("{package}.{service_name}_{suffix}");
                let envelope = pool
                    .get_message_by_name(&envelope_name)
                    .ok_or_else(|| format!("{name}: no message {envelope_name}"))?;
                let field = envelope
                    .get_field_by_name(&name)
                    .ok_or_else(|| format!("{name}: no field {name} in {envelope_name}"))?;
                match field.kind() {
                    Kind::Message(m) if m.full_name() == message.full_name() => Ok(field.number()),
                    _ => Err(format!(
                        "{name}: {envelope_name}.{name} is not a {}",
                        message.full_name()
                    )),
                }
            };
            let entry = Method {
                request_field: field("request", &input)?,
                response_field: field("response", &method.output())?,
                service: service_name,
                name: name.clone(),
            };
            methods.insert(name, entry);
        }
        Ok(Self { methods })
    }

    /// The method served at `/koinos.services.koinos/<name>`.
    pub fn get(&self, name: &str) -> Option<&Method> {
        self.methods.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Method> {
        self.methods.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use koinos_protocol::pb::koinos::rpc::ReservedRpc;
    use koinos_protocol::pb::koinos::rpc::chain::{
        ChainRequest, ChainResponse, GetHeadInfoRequest, GetHeadInfoResponse, chain_request,
        chain_response,
    };

    fn table() -> MethodTable {
        MethodTable::from_pool(koinos_protocol::descriptor_pool()).expect("method table")
    }

    #[test]
    fn the_table_has_every_client_facing_method_with_its_envelope_fields() {
        let table = table();
        let names: Vec<_> = table
            .iter()
            .map(|m| format!("{}.{}", m.service, m.name))
            .collect();
        assert_eq!(names.len(), 19, "{names:?}");
        for expected in [
            "account_history.get_account_history",
            "block_store.get_blocks_by_height",
            "chain.invoke_system_call",
            "mempool.check_pending_account_resources",
            "p2p.get_gossip_status",
            "transaction_store.get_transactions_by_id",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        // Not exposed, as in the official gateway: writes of blocks by clients.
        assert!(table.get("add_block").is_none());
        assert!(table.get("propose_block").is_none());
        let head_info = table.get("get_head_info").expect("get_head_info");
        assert_eq!((head_info.request_field, head_info.response_field), (4, 5));
        let highest = table.get("get_highest_block").expect("get_highest_block");
        assert_eq!((highest.request_field, highest.response_field), (5, 6));
    }

    #[test]
    fn a_wrapped_request_decodes_as_the_envelope_even_when_empty() {
        let method = table().get("get_head_info").cloned().expect("method");
        let envelope = method.wrap_request(&GetHeadInfoRequest::default().encode_to_vec());
        assert_eq!(envelope, vec![0x22, 0x00]);
        let decoded = ChainRequest::decode(envelope.as_slice()).expect("decodes");
        assert_eq!(
            decoded.request,
            Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {}))
        );
    }

    #[test]
    fn a_response_yields_its_result_an_error_message_or_a_refusal() {
        let method = table().get("get_head_info").cloned().expect("method");
        let result = GetHeadInfoResponse {
            last_irreversible_block: 7,
            head_block_time: 1_700_000_000_000,
            ..Default::default()
        };
        let envelope = ChainResponse {
            response: Some(chain_response::Response::GetHeadInfo(result.clone())),
        };
        let bytes = method
            .unwrap_response(envelope.encode_to_vec().into())
            .expect("result");
        assert_eq!(GetHeadInfoResponse::decode(bytes).expect("decodes"), result);

        let error = ChainResponse {
            response: Some(chain_response::Response::Error(ErrorStatus {
                message: "boom".into(),
                ..Default::default()
            })),
        };
        assert_eq!(
            method.unwrap_response(error.encode_to_vec().into()),
            Err(ResponseError::Service("boom".into()))
        );
        let reserved = ChainResponse {
            response: Some(chain_response::Response::Reserved(ReservedRpc {})),
        };
        assert_eq!(
            method.unwrap_response(reserved.encode_to_vec().into()),
            Err(ResponseError::Unexpected)
        );
        assert_eq!(
            method.unwrap_response(Bytes::new()),
            Err(ResponseError::Unexpected)
        );
        assert!(matches!(
            method.unwrap_response(Bytes::from_static(&[0x2a, 0x05, 0x01])),
            Err(ResponseError::Malformed(_))
        ));
    }
}
