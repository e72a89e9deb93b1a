//! Gateway translation and error handling without a broker: `prepare` (request → protobuf) and
//! `finish` (reply bytes or call failure → JSON), including fuzzed and malformed input.

use prost::Message;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::config::GatewayOptions;
use super::gateway::{CallError, DATA_DEADLINE_EXCEEDED, Gateway};
use super::translate::Translator;
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ChainResponse, GetAccountNonceRequest, GetHeadInfoRequest, GetHeadInfoResponse,
    chain_request, chain_response,
};
use koinos_protocol::pb::koinos::rpc::{ErrorStatus, ReservedRpc};
use koinos_protocol::rpc::block_store::{
    BlockStoreRequest, GetBlocksByHeightRequest, block_store_request,
};

/// `prepare`/`finish` never call the transport; `()` makes that explicit.
fn gateway(options: GatewayOptions) -> Gateway<()> {
    Gateway::new(options, Translator::builtin(), ())
}

fn reply(text: &str) -> Value {
    serde_json::from_str(text).expect("replies are JSON")
}

fn rejected(gateway: &Gateway<()>, body: &str) -> Value {
    reply(
        &gateway
            .prepare(body.as_bytes())
            .expect_err("must be rejected"),
    )
}

fn request(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 42, "method": method, "params": params}).to_string()
}

#[test]
fn both_method_forms_translate_to_the_same_envelope() {
    let gateway = gateway(GatewayOptions::default());
    let expected = ChainRequest {
        request: Some(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {})),
    }
    .encode_to_vec();
    for method in ["chain.get_head_info", "koinos.rpc.chain.get_head_info"] {
        for params in [Some(json!({})), None, Some(Value::Null)] {
            let body = match &params {
                Some(p) => request(method, p.clone()),
                None => json!({"jsonrpc": "2.0", "id": 1, "method": method}).to_string(),
            };
            let call = gateway.prepare(body.as_bytes()).expect("translates");
            assert_eq!(call.method.service, "chain");
            assert_eq!(call.request, expected, "{method} {params:?}");
        }
    }
}

#[test]
fn params_are_koinos_json() {
    let gateway = gateway(GatewayOptions::default());
    let head = format!("0x1220{}", "ab".repeat(32));
    let body = request(
        "block_store.get_blocks_by_height",
        json!({"head_block_id": head, "ancestor_start_height": 1, "num_blocks": "3",
               "return_block": true, "unknown_field": 7}),
    );
    let call = gateway.prepare(body.as_bytes()).unwrap();
    assert_eq!(call.method.service, "block_store");
    let decoded = BlockStoreRequest::decode(call.request.as_slice()).unwrap();
    let Some(block_store_request::Request::GetBlocksByHeight(inner)) = decoded.request else {
        panic!("wrong request variant: {decoded:?}");
    };
    assert_eq!(
        inner,
        GetBlocksByHeightRequest {
            head_block_id: [vec![0x12, 0x20], vec![0xab; 32]].concat(),
            ancestor_start_height: 1,
            num_blocks: 3,
            return_block: true,
            return_receipt: false,
        }
    );
    let address = bs58::encode([0u8; 25]).into_string();
    let body = request("chain.get_account_nonce", json!({"account": address}));
    let call = gateway.prepare(body.as_bytes()).unwrap();
    let expected = ChainRequest {
        request: Some(chain_request::Request::GetAccountNonce(
            GetAccountNonceRequest {
                account: vec![0; 25],
            },
        )),
    };
    assert_eq!(call.request, expected.encode_to_vec());
}

#[test]
fn translation_failures_are_minus_32601_with_the_documented_data() {
    let gateway = gateway(GatewayOptions::default());
    let cases = [
        (
            request("get_head_info", json!({})),
            "methods should be in the format service_name.method_name",
        ),
        // Past four segments the official gateway keeps the dots in the method.
        (
            request("a.b.c.d.e", json!({})),
            "invalid service name provided",
        ),
        (
            request("koinos.rpc.chain.get_head_info.x", json!({})),
            "unknown method",
        ),
        (
            request("x.koinos.rpc.chain.get_head_info", json!({})),
            "invalid service name provided",
        ),
        (
            request("nosuch.get_head_info", json!({})),
            "invalid service name provided",
        ),
        (request("chain.no_such_method", json!({})), "unknown method"),
        (request("chain.reserved", json!({})), "unknown method"),
        (
            request("chain.propose_block", json!({})),
            "method blacklisted",
        ),
        (
            request("block_store.add_block", json!({})),
            "method blacklisted",
        ),
        (
            request("chain.get_account_nonce", json!({"account": "0OIl"})),
            "parameters could not be parsed",
        ),
        (
            request("chain.get_account_nonce", json!([1, 2])),
            "parameters could not be parsed",
        ),
        (
            request("chain.get_account_nonce", json!("text")),
            "parameters could not be parsed",
        ),
        (
            request(
                "block_store.get_blocks_by_height",
                json!({"num_blocks": -1}),
            ),
            "parameters could not be parsed",
        ),
        (
            request(
                "block_store.get_blocks_by_height",
                json!({"head_block_id": "1220"}),
            ),
            "parameters could not be parsed",
        ),
    ];
    for (body, data) in cases {
        let reply = rejected(&gateway, &body);
        assert_eq!(reply["error"]["code"], -32601, "{body}");
        assert_eq!(reply["error"]["message"], "Unable to translate request");
        assert_eq!(reply["error"]["data"], data, "{body}");
        assert_eq!(reply["id"], 42);
        assert_eq!(reply["jsonrpc"], "2.0");
    }
}

#[test]
fn a_whitelist_restricts_methods_by_prefix() {
    let gateway = gateway(GatewayOptions {
        whitelist: vec!["chain.get_".into()],
        ..GatewayOptions::default()
    });
    assert!(
        gateway
            .prepare(request("chain.get_head_info", json!({})).as_bytes())
            .is_ok()
    );
    let reply = rejected(
        &gateway,
        &request("block_store.get_highest_block", json!({})),
    );
    assert_eq!(reply["error"]["data"], "method not whitelisted");
}

#[test]
fn oversized_requests_are_minus_32602() {
    let gateway = gateway(GatewayOptions {
        max_request_size: 8,
        ..GatewayOptions::default()
    });
    let body = request(
        "chain.get_account_nonce",
        json!({"account": bs58::encode([7u8; 25]).into_string()}),
    );
    let reply = rejected(&gateway, &body);
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "id": 42, "error": {"code": -32602,
            "message": "Request exceeds maximum message size",
            "data": "parameters could not be parsed"}})
    );
}

fn finish(gateway: &Gateway<()>, outcome: Result<Vec<u8>, CallError>) -> Value {
    let body = request("chain.get_head_info", json!({}));
    let call = gateway.prepare(body.as_bytes()).unwrap();
    reply(&gateway.finish(&call, outcome))
}

#[test]
fn results_errors_and_timeouts_map_as_documented() {
    let gateway = gateway(GatewayOptions::default());
    let ok = ChainResponse {
        response: Some(chain_response::Response::GetHeadInfo(GetHeadInfoResponse {
            head_block_time: 5,
            ..Default::default()
        })),
    };
    let reply = finish(&gateway, Ok(ok.encode_to_vec()));
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "result": {"head_block_time": "5"}, "id": 42})
    );

    let empty = ChainResponse {
        response: Some(chain_response::Response::GetHeadInfo(
            GetHeadInfoResponse::default(),
        )),
    };
    assert_eq!(
        finish(&gateway, Ok(empty.encode_to_vec()))["result"],
        json!({})
    );

    let error = ChainResponse {
        response: Some(chain_response::Response::Error(ErrorStatus {
            message: "boom".into(),
            data: r#"{"code":-1003}"#.into(),
            details: vec![],
        })),
    };
    let reply = finish(&gateway, Ok(error.encode_to_vec()));
    assert_eq!(
        reply["error"],
        json!({"code": -32603, "message": "boom", "data": "{\"code\":-1003}"})
    );
    let bare = ChainResponse {
        response: Some(chain_response::Response::Error(ErrorStatus {
            message: "no data".into(),
            ..Default::default()
        })),
    };
    assert_eq!(
        finish(&gateway, Ok(bare.encode_to_vec()))["error"],
        json!({"code": -32603, "message": "no data"})
    );

    let timeout = finish(&gateway, Err(CallError::Timeout));
    assert_eq!(
        timeout["error"],
        json!({"code": -32603, "message": "An internal server error has occurred",
               "data": DATA_DEADLINE_EXCEEDED})
    );
    assert_eq!(
        DATA_DEADLINE_EXCEEDED,
        "rpc failed, context deadline exceeded"
    );
    let failed = finish(&gateway, Err(CallError::Failed("not connected".into())));
    assert_eq!(failed["error"]["data"], "rpc failed, not connected");

    let reserved = ChainResponse {
        response: Some(chain_response::Response::Reserved(ReservedRpc {})),
    };
    for bytes in [reserved.encode_to_vec(), vec![], vec![0xff, 0xff, 0xff]] {
        let reply = finish(&gateway, Ok(bytes));
        assert_eq!(reply["error"]["code"], -32603);
        assert_eq!(reply["id"], 42);
    }
}

#[test]
fn an_undecodable_response_is_minus_32603_with_the_decoder_error_as_message() {
    let gateway = gateway(GatewayOptions::default());
    for bytes in [vec![0xff, 0xff, 0xff], vec![0x12, 0x05, 0x01]] {
        let reply = finish(&gateway, Ok(bytes.clone()));
        assert_eq!(
            reply,
            json!({"jsonrpc": "2.0", "id": 42, "error": {"code": -32603,
                "message": "proto: cannot parse invalid wire-format data"}}),
            "{bytes:?}"
        );
    }
}

/// Random and mutated requests: every reply is a well-formed JSON-RPC error or a translated
/// call, never a panic.
#[test]
fn fuzzed_requests_always_get_a_documented_reply() {
    let gateway = gateway(GatewayOptions::default());
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6b6f696e6f73);
    let seeds = [
        request("chain.get_head_info", json!({})),
        request(
            "block_store.get_blocks_by_height",
            json!({"head_block_id": "0x1220", "num_blocks": 2}),
        ),
        request(
            "chain.submit_transaction",
            json!({"transaction": {"id": "0x12", "header": {"rc_limit": "1"}}}),
        ),
        request("mempool.get_pending_transactions", json!({"limit": 10})),
    ];
    let alphabet = br#"{}[]":,0123456789.-eE+ nulltruefalse\"idjsonrpcmethodparams"#;
    let codes = [-32700, -32600, -32601, -32602];
    for round in 0..20_000 {
        let seed = seeds[round % seeds.len()].as_bytes();
        let mut body = seed.to_vec();
        match rng.random_range(0..4) {
            0 => body = (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
            1 => {
                for _ in 0..rng.random_range(1..6) {
                    let at = rng.random_range(0..body.len());
                    body[at] = alphabet[rng.random_range(0..alphabet.len())];
                }
            }
            2 => body.truncate(rng.random_range(0..body.len())),
            _ => {
                let at = rng.random_range(0..body.len());
                let insert: Vec<u8> = (0..rng.random_range(1..8))
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect();
                body.splice(at..at, insert);
            }
        }
        match gateway.prepare(&body) {
            Ok(call) => assert!(!call.request.is_empty()),
            Err(text) => {
                let reply = reply(&text);
                assert_eq!(reply["jsonrpc"], "2.0");
                let code = reply["error"]["code"].as_i64().expect("error code");
                assert!(codes.contains(&code), "unexpected code {code} for {body:?}");
            }
        }
    }
}
