use super::*;
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetChainIdRequest, GetChainIdResponse, GetHeadInfoRequest,
    chain_request, chain_response,
};
use prost::Message;

/// Answers get_chain_id, fails get_head_info, panics on anything else.
struct ChainStub;

impl Handler for ChainStub {
    type Request = ChainRequest;
    type Response = ChainResponse;

    async fn handle(&self, request: ChainRequest) -> Result<ChainResponse, RpcError> {
        match request.request {
            Some(chain_request::Request::GetChainId(_)) => Ok(ChainResponse {
                response: Some(chain_response::Response::GetChainId(GetChainIdResponse {
                    chain_id: vec![7; 34],
                })),
            }),
            Some(chain_request::Request::GetHeadInfo(_)) => Err(RpcError::new("no head yet")),
            _ => panic!("unexpected request"),
        }
    }
}

async fn answer_to(body: &[u8]) -> (ChainResponse, Arc<RpcMetrics>) {
    let metrics = RpcMetrics::for_service("typed_unit_test");
    let reply = dispatch(&ChainStub, &metrics, body).await;
    (ChainResponse::decode(reply.as_slice()).unwrap(), metrics)
}

fn request(r: chain_request::Request) -> Vec<u8> {
    ChainRequest { request: Some(r) }.encode_to_vec()
}

#[tokio::test]
async fn handler_result_is_the_response() {
    let (resp, metrics) = answer_to(&request(chain_request::Request::GetChainId(
        GetChainIdRequest {},
    )))
    .await;
    assert!(
        matches!(resp.response, Some(chain_response::Response::GetChainId(r)) if r.chain_id == vec![7; 34])
    );
    assert!(metrics.request_count("get_chain_id", "ok") >= 1);
}

#[tokio::test]
async fn handler_error_becomes_error_status() {
    let (resp, metrics) = answer_to(&request(chain_request::Request::GetHeadInfo(
        GetHeadInfoRequest {},
    )))
    .await;
    assert_eq!(resp.error_message(), Some("no head yet"));
    assert!(metrics.request_count("get_head_info", "error") >= 1);
}

#[tokio::test]
async fn reserved_ping_is_answered_with_reserved() {
    let (resp, _) = answer_to(&ChainRequest::reserved().encode_to_vec()).await;
    assert_eq!(resp, ChainResponse::reserved());
}

#[tokio::test]
async fn truncated_protobuf_gets_an_error_response() {
    let mut body = request(chain_request::Request::GetChainId(GetChainIdRequest {}));
    body.extend_from_slice(&[0x12, 0x05, 0x01]); // field 2, 5 bytes announced, 1 present
    let (resp, metrics) = answer_to(&body).await;
    let message = resp.error_message().expect("error response");
    assert!(message.starts_with("malformed request"), "{message}");
    assert!(metrics.request_count("unknown", "malformed") >= 1);
}

#[tokio::test]
async fn unknown_oneof_and_empty_request_get_an_error_response() {
    // Field 99 (length-delimited, empty): a method this build does not know.
    let (resp, _) = answer_to(&[0x9a, 0x06, 0x00]).await;
    assert_eq!(resp.error_message(), Some("unknown request"));
    let (resp, _) = answer_to(&[]).await;
    assert_eq!(resp.error_message(), Some("unknown request"));
}

#[tokio::test]
async fn handler_panic_gets_an_internal_error_response() {
    let body = request(chain_request::Request::GetForkHeads(Default::default()));
    let (resp, metrics) = answer_to(&body).await;
    assert_eq!(resp.error_message(), Some("internal error"));
    assert!(metrics.request_count("get_fork_heads", "panic") >= 1);
}
