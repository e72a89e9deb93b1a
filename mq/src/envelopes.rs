//! [`RequestEnvelope`] / [`ResponseEnvelope`] for the Koinos service envelopes, and method names
//! (the oneof field names, e.g. `get_head_info`) for metrics.

use crate::typed::{RequestEnvelope, ResponseEnvelope, RpcError};
use koinos_protocol::pb::koinos::rpc::{self, ErrorStatus, ReservedRpc};
use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

macro_rules! envelope {
    ($svc:ident, $req:ident, $resp:ident, $req_mod:ident, $resp_mod:ident) => {
        impl RequestEnvelope for rpc::$svc::$req {
            fn is_set(&self) -> bool {
                self.request.is_some()
            }
            fn is_reserved(&self) -> bool {
                matches!(
                    self.request,
                    Some(rpc::$svc::$req_mod::Request::Reserved(_))
                )
            }
            fn reserved() -> Self {
                Self {
                    request: Some(rpc::$svc::$req_mod::Request::Reserved(ReservedRpc {})),
                }
            }
        }

        impl ResponseEnvelope for rpc::$svc::$resp {
            fn reserved() -> Self {
                Self {
                    response: Some(rpc::$svc::$resp_mod::Response::Reserved(ReservedRpc {})),
                }
            }
            fn error(error: &RpcError) -> Self {
                Self {
                    response: Some(rpc::$svc::$resp_mod::Response::Error(error_status(error))),
                }
            }
            fn error_message(&self) -> Option<&str> {
                match &self.response {
                    Some(rpc::$svc::$resp_mod::Response::Error(e)) => Some(&e.message),
                    _ => None,
                }
            }
        }
    };
}

envelope!(
    chain,
    ChainRequest,
    ChainResponse,
    chain_request,
    chain_response
);
envelope!(
    block_store,
    BlockStoreRequest,
    BlockStoreResponse,
    block_store_request,
    block_store_response
);
envelope!(
    mempool,
    MempoolRequest,
    MempoolResponse,
    mempool_request,
    mempool_response
);
envelope!(
    transaction_store,
    TransactionStoreRequest,
    TransactionStoreResponse,
    transaction_store_request,
    transaction_store_response
);
envelope!(
    contract_meta_store,
    ContractMetaStoreRequest,
    ContractMetaStoreResponse,
    contract_meta_store_request,
    contract_meta_store_response
);
envelope!(
    account_history,
    AccountHistoryRequest,
    AccountHistoryResponse,
    account_history_request,
    account_history_response
);
envelope!(p2p, P2pRequest, P2pResponse, p2p_request, p2p_response);

#[allow(deprecated)] // `data` is deprecated upstream but still set by some services
fn error_status(error: &RpcError) -> ErrorStatus {
    ErrorStatus {
        message: error.message.clone(),
        data: error.data.clone(),
        details: Vec::new(),
    }
}

/// The method of an encoded request: the name of its oneof field. Envelopes have no other
/// top-level fields and the last oneof field on the wire wins, so it is the last top-level
/// field number, named through the protocol's descriptor pool. `"unknown"` if not found.
pub(crate) fn method_name<R: prost::Name + 'static>(body: &[u8]) -> &'static str {
    // Keyed by type, so the per-request lookup neither allocates nor takes a write lock.
    static NAMES: LazyLock<RwLock<HashMap<(TypeId, u32), &'static str>>> =
        LazyLock::new(Default::default);
    let Some(tag) = last_top_level_tag(body) else {
        return "unknown";
    };
    let key = (TypeId::of::<R>(), tag);
    if let Some(name) = NAMES.read().expect("names lock").get(&key) {
        return name;
    }
    let name = koinos_protocol::pb::descriptor_pool()
        .get_message_by_name(&R::full_name())
        .and_then(|m| m.get_field(tag))
        // Leaked once per (envelope, method): a small, fixed set.
        .map(|f| &*Box::leak(f.name().to_owned().into_boxed_str()))
        .unwrap_or("unknown");
    NAMES.write().expect("names lock").insert(key, name);
    name
}

/// The field number of the last top-level field of a protobuf message, if it parses.
fn last_top_level_tag(mut buf: &[u8]) -> Option<u32> {
    let mut last = None;
    while !buf.is_empty() {
        let key = read_varint(&mut buf)?;
        let tag = u32::try_from(key >> 3).ok()?;
        let skip = match key & 7 {
            0 => {
                read_varint(&mut buf)?;
                0
            }
            1 => 8,
            2 => usize::try_from(read_varint(&mut buf)?).ok()?,
            5 => 4,
            _ => return None,
        };
        buf = buf.get(skip..)?;
        last = Some(tag);
    }
    last
}

fn read_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use koinos_protocol::pb::koinos::rpc::chain::{
        ChainRequest, ChainResponse, GetHeadInfoRequest, chain_request,
    };
    use prost::Message;

    #[test]
    fn method_name_is_the_oneof_field_name() {
        let req = ChainRequest {
            request: Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {})),
        };
        assert_eq!(
            method_name::<ChainRequest>(&req.encode_to_vec()),
            "get_head_info"
        );
        let ping = ChainRequest::reserved().encode_to_vec();
        assert_eq!(method_name::<ChainRequest>(&ping), "reserved");
        assert_eq!(method_name::<ChainRequest>(&[0x0a]), "unknown", "truncated");
        assert_eq!(
            method_name::<ChainRequest>(&[0xfa, 0x01, 0x00]),
            "unknown",
            "tag 31"
        );
    }

    #[test]
    fn error_response_carries_the_message() {
        let resp = ChainResponse::error(&RpcError::new("boom"));
        assert_eq!(resp.error_message(), Some("boom"));
        let decoded = ChainResponse::decode(resp.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.error_message(), Some("boom"));
        assert_eq!(ChainResponse::reserved().error_message(), None);
    }
}
