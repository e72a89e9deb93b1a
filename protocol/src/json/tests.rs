use prost::{Message, Name};
use serde_json::{Value, json};

use super::*;
use crate::pb::koinos::chain::{self, value_type::Kind as ValueKind};
use crate::pb::koinos::protocol::{self, operation::Op};
use crate::pb::koinos::rpc::{self as krpc, block_store, chain as chain_rpc, mempool};
use crate::pb::koinos::{BlockTopology, broadcast};

fn block_id(fill: u8) -> Vec<u8> {
    let mut id = vec![0x12, 0x20];
    id.extend([fill; 32]);
    id
}

fn round_trip<M: Message + Name + Default + PartialEq + std::fmt::Debug>(message: &M) -> Value {
    let value = to_value(message).unwrap();
    let back: M = from_value(&value).unwrap();
    assert_eq!(&back, message, "round trip through {value}");
    value
}

#[test]
fn head_info_uses_hex_ids_string_u64_and_base64url() {
    let response = chain_rpc::GetHeadInfoResponse {
        head_topology: Some(BlockTopology {
            id: block_id(0xab),
            height: 42,
            previous: block_id(0),
        }),
        last_irreversible_block: 18_446_744_073_709_551_615,
        head_state_merkle_root: vec![0xfb, 0xff, 0xfe],
        head_block_time: 1_700_000_000_000,
    };
    let value = round_trip(&response);
    assert_eq!(
        value,
        json!({
            "head_topology": {
                "id": format!("0x1220{}", "ab".repeat(32)),
                "height": "42",
                "previous": format!("0x1220{}", "00".repeat(32)),
            },
            "last_irreversible_block": "18446744073709551615",
            // URL-safe alphabet: no '+' or '/'.
            "head_state_merkle_root": "-__-",
            "head_block_time": "1700000000000",
        })
    );
}

#[test]
fn addresses_and_contract_ids_are_base58() {
    let address = bs58::decode("1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK")
        .into_vec()
        .unwrap();
    let contract = bs58::decode("15DJN4a8SgrbGhhGksSBASiSYjGnMU8dGL")
        .into_vec()
        .unwrap();
    let request = chain_rpc::ReadContractRequest {
        contract_id: contract,
        entry_point: 0x5c72_1497,
        args: vec![0x0a, 0x00],
    };
    let value = round_trip(&request);
    assert_eq!(
        value,
        json!({"contract_id": "15DJN4a8SgrbGhhGksSBASiSYjGnMU8dGL", "entry_point": 1550980247, "args": "CgA="})
    );
    let nonce = chain_rpc::GetAccountNonceRequest { account: address };
    assert_eq!(
        round_trip(&nonce),
        json!({"account": "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"})
    );
}

#[test]
fn every_btype_encodes_and_parses() {
    let bytes = [0x00, 0x01, 0xfe, 0xff];
    let cases = [
        (BytesType::Base64, "AAH-_w=="),
        (BytesType::Base58, "1ftS"),
        (BytesType::Hex, "0x0001feff"),
        (BytesType::BlockId, "0x0001feff"),
        (BytesType::TransactionId, "0x0001feff"),
        (BytesType::ContractId, "1ftS"),
        (BytesType::Address, "1ftS"),
    ];
    for (btype, text) in cases {
        assert_eq!(btype.encode(&bytes), text, "{btype:?}");
        assert_eq!(btype.decode(text).unwrap(), bytes, "{btype:?}");
    }
    for n in 0..7 {
        assert_eq!(BytesType::from_number(n), cases[n as usize].0);
    }
}

#[test]
fn strict_bytes_parsing_rejects_foreign_forms() {
    // Standard alphabet, missing padding, missing 0x, invalid base58 character.
    assert!(BytesType::Base64.decode("AAH+/w==").is_err());
    assert!(BytesType::Base64.decode("AAH-_w").is_err());
    assert!(BytesType::BlockId.decode("0001feff").is_err());
    assert!(BytesType::Address.decode("10OIl").is_err());
    let err =
        from_value::<chain_rpc::GetAccountNonceRequest>(&json!({"account": "0OIl"})).unwrap_err();
    assert!(err.to_string().contains("account"), "{err}");
}

#[test]
fn transaction_ids_and_repeated_bytes_render_per_element() {
    let request = mempool::GetPendingTransactionsByIdRequest {
        transaction_ids: vec![vec![0x12, 0x20, 0x01], vec![0xaa]],
        block_id: None,
    };
    assert_eq!(
        round_trip(&request),
        json!({"transaction_ids": ["0x122001", "0xaa"]})
    );
}

#[test]
fn defaults_are_omitted() {
    let receipt = protocol::TransactionReceipt::default();
    assert_eq!(round_trip(&receipt), json!({}));
    let rc = chain_rpc::GetAccountRcResponse { rc: 0 };
    assert_eq!(to_value(&rc).unwrap(), json!({}));
    let reverted = protocol::TransactionReceipt {
        reverted: false,
        rc_used: 7,
        ..Default::default()
    };
    assert_eq!(to_value(&reverted).unwrap(), json!({"rc_used": "7"}));
}

#[test]
fn optional_fields_are_written_when_set_even_if_empty() {
    let parcel = broadcast::EventParcel {
        transaction_id: Some(Vec::new()),
        ..Default::default()
    };
    assert_eq!(round_trip(&parcel), json!({"transaction_id": "0x"}));
    let deleted = protocol::StateDeltaEntry {
        value: None,
        key: vec![1],
        ..Default::default()
    };
    assert_eq!(round_trip(&deleted), json!({"key": "AQ=="}));
    let empty = protocol::StateDeltaEntry {
        value: Some(Vec::new()),
        ..Default::default()
    };
    assert_eq!(round_trip(&empty), json!({"value": ""}));
    let proposal = chain_rpc::ProposeBlockResponse {
        receipt: Some(protocol::BlockReceipt::default()),
        failed_transaction_indices: vec![0, 3],
    };
    assert_eq!(
        round_trip(&proposal),
        json!({"receipt": {}, "failed_transaction_indices": [0, 3]})
    );
    let history = krpc::account_history::GetAccountHistoryRequest {
        seq_num: Some(0),
        ..Default::default()
    };
    assert_eq!(round_trip(&history), json!({"seq_num": "0"}));
}

#[test]
fn oneof_members_are_written_when_set_even_if_zero() {
    let nonce = chain::ValueType {
        kind: Some(ValueKind::Uint64Value(0)),
    };
    assert_eq!(round_trip(&nonce), json!({"uint64_value": "0"}));
    let request = chain_rpc::ChainRequest {
        request: Some(chain_rpc::chain_request::Request::GetHeadInfo(
            Default::default(),
        )),
    };
    assert_eq!(round_trip(&request), json!({"get_head_info": {}}));
    let call = chain_rpc::InvokeSystemCallRequest {
        system_call: Some(chain_rpc::invoke_system_call_request::SystemCall::Id(0)),
        ..Default::default()
    };
    assert_eq!(round_trip(&call), json!({"id": "0"}));
}

#[test]
fn two_members_of_one_oneof_are_rejected() {
    let err = from_value::<chain::ValueType>(&json!({"uint64_value": "1", "int32_value": 2}))
        .unwrap_err();
    assert!(err.to_string().contains("oneof"), "{err}");
}

#[test]
fn u64_accepts_string_and_number_on_input() {
    let expected = block_store::GetBlocksByHeightRequest {
        head_block_id: block_id(7),
        ancestor_start_height: 12,
        num_blocks: 3,
        return_block: true,
        return_receipt: false,
    };
    let head = format!("0x1220{}", "07".repeat(32));
    for height in [json!(12), json!("12"), json!(12.0)] {
        let value = json!({"head_block_id": head, "ancestor_start_height": height, "num_blocks": 3, "return_block": true});
        assert_eq!(
            from_value::<block_store::GetBlocksByHeightRequest>(&value).unwrap(),
            expected
        );
    }
    let max = json!({"rc": "18446744073709551615"});
    assert_eq!(
        from_value::<chain_rpc::GetAccountRcResponse>(&max)
            .unwrap()
            .rc,
        u64::MAX
    );
    for bad in [
        json!({"rc": "-1"}),
        json!({"rc": 1.5}),
        json!({"rc": "x"}),
        json!({"rc": true}),
    ] {
        assert!(
            from_value::<chain_rpc::GetAccountRcResponse>(&bad).is_err(),
            "{bad}"
        );
    }
    let wide = json!({"num_blocks": 4_294_967_296u64});
    assert!(from_value::<block_store::GetBlocksByHeightRequest>(&wide).is_err());
}

#[test]
fn input_accepts_lower_camel_names_and_ignores_unknown_fields() {
    let value =
        json!({"headBlockId": "0x01", "numBlocks": 2, "mystery": [1, 2], "return_block": null});
    let parsed: block_store::GetBlocksByHeightRequest = from_value(&value).unwrap();
    assert_eq!(parsed.head_block_id, vec![1]);
    assert_eq!(parsed.num_blocks, 2);
    assert!(!parsed.return_block);
}

#[test]
fn enums_are_names_and_accept_numbers() {
    let caller = chain::CallerData {
        caller: vec![0],
        caller_privilege: chain::Privilege::UserMode as i32,
    };
    assert_eq!(
        round_trip(&caller),
        json!({"caller": "1", "caller_privilege": "user_mode"})
    );
    let by_number: chain::CallerData = from_value(&json!({"caller_privilege": 1})).unwrap();
    assert_eq!(by_number.caller_privilege, 1);
    assert!(from_value::<chain::CallerData>(&json!({"caller_privilege": "root"})).is_err());
}

#[test]
fn any_details_carry_their_type_url() {
    let details = chain::ErrorDetails {
        code: -201,
        logs: vec!["bad nonce".into()],
    };
    let status = krpc::ErrorStatus {
        message: "invalid nonce".into(),
        data: String::new(),
        details: vec![prost_types::Any::from_msg(&details).unwrap()],
    };
    let value = round_trip(&status);
    assert_eq!(
        value,
        json!({
            "message": "invalid nonce",
            "details": [{"@type": "type.googleapis.com/koinos.chain.error_details", "code": -201, "logs": ["bad nonce"]}],
        })
    );
}

#[test]
fn block_with_transactions_round_trips() {
    let transaction = protocol::Transaction {
        id: block_id(1),
        header: Some(protocol::TransactionHeader {
            chain_id: block_id(2),
            rc_limit: 100_000_000,
            nonce: vec![0x28, 0x01],
            operation_merkle_root: block_id(3),
            payer: vec![0, 1, 2],
            payee: Vec::new(),
        }),
        operations: vec![
            protocol::Operation {
                op: Some(Op::CallContract(protocol::CallContractOperation {
                    contract_id: vec![9, 9],
                    entry_point: 670_398_154,
                    args: vec![],
                })),
            },
            protocol::Operation {
                op: Some(Op::SetSystemCall(protocol::SetSystemCallOperation {
                    call_id: 4,
                    target: Some(protocol::SystemCallTarget {
                        target: Some(protocol::system_call_target::Target::ThunkId(0)),
                    }),
                })),
            },
        ],
        signatures: vec![vec![0x1f; 65]],
    };
    let block = protocol::Block {
        id: block_id(4),
        header: Some(protocol::BlockHeader {
            previous: block_id(0),
            height: 2,
            timestamp: 1_700_000_000_000,
            approved_proposals: vec![block_id(5)],
            ..Default::default()
        }),
        transactions: vec![transaction],
        signature: vec![0x20; 65],
    };
    let value = round_trip(&block);
    let tx = &value["transactions"][0];
    assert_eq!(tx["header"]["nonce"], "KAE=");
    assert_eq!(tx["header"]["rc_limit"], "100000000");
    assert_eq!(
        tx["operations"][0]["call_contract"]["entry_point"],
        670398154
    );
    assert_eq!(
        tx["operations"][1]["set_system_call"]["target"],
        json!({"thunk_id": 0})
    );
    assert!(tx["header"].get("payee").is_none());
}

#[test]
fn by_name_translation_matches_typed_translation() {
    let response = chain_rpc::GetChainIdResponse {
        chain_id: block_id(9),
    };
    let name = "koinos.rpc.chain.get_chain_id_response";
    let value = to_value_by_name(name, &response.encode_to_vec()).unwrap();
    assert_eq!(value, to_value(&response).unwrap());
    assert_eq!(
        from_value_by_name(name, &value).unwrap(),
        response.encode_to_vec()
    );
    assert!(matches!(
        to_value_by_name("koinos.rpc.chain.nope", &[]),
        Err(JsonError::UnknownMessage(_))
    ));
    assert!(matches!(
        to_value_by_name(name, &[0x0a, 0x05, 0x01]),
        Err(JsonError::DecodeProtobuf { .. })
    ));
    assert!(matches!(
        from_value_by_name(name, &json!([1])),
        Err(JsonError::ExpectedObject(_))
    ));
}

#[test]
fn text_helpers_round_trip() {
    let status = broadcast::GossipStatus { enabled: true };
    let text = to_string(&status).unwrap();
    assert_eq!(text, r#"{"enabled":true}"#);
    assert_eq!(from_str::<broadcast::GossipStatus>(&text).unwrap(), status);
}

#[test]
fn btype_table_agrees_with_field_options() {
    let pool = crate::pb::descriptor_pool();
    let mut annotated = 0;
    for message in pool.all_messages() {
        for field in message.fields() {
            if matches!(field.kind(), prost_reflect::Kind::Bytes) {
                let from_table = BytesType::of_field(&field);
                assert_eq!(
                    from_table,
                    BytesType::from_options(&field),
                    "{}",
                    field.full_name()
                );
                annotated += usize::from(from_table != BytesType::Base64);
            }
        }
    }
    assert!(annotated > 40, "only {annotated} annotated bytes fields");
}

// The cases below pinned the JSON-RPC gateway's former codec; the gateway now uses this module.

#[test]
fn gateway_bytes_follow_the_btype_and_u64_are_strings() {
    let info = chain_rpc::GetHeadInfoResponse {
        head_topology: Some(BlockTopology {
            id: vec![0x12, 0x20, 0xab],
            height: 7,
            previous: vec![],
        }),
        last_irreversible_block: 0,
        head_state_merkle_root: vec![0xfb, 0xff],
        head_block_time: 1_700_000_000_000,
    };
    assert_eq!(
        to_value(&info).unwrap(),
        json!({
            "head_topology": {"id": "0x1220ab", "height": "7"},
            "head_state_merkle_root": "-_8=",
            "head_block_time": "1700000000000"
        })
    );
}

#[test]
fn gateway_params_accept_camel_and_snake_names_numbers_or_strings_and_ignore_unknown_fields() {
    let address = bs58::encode([0u8; 25]).into_string();
    let value = json!({"rcLimit": 100, "nonce": "KAE=", "payer": address, "extra": [1, 2]});
    let header: protocol::TransactionHeader = from_value(&value).unwrap();
    assert_eq!(header.rc_limit, 100);
    assert_eq!(header.nonce, vec![0x28, 0x01]);
    assert_eq!(header.payer, vec![0u8; 25]);
    let header: protocol::TransactionHeader =
        from_value(&json!({"rc_limit": "18446744073709551615"})).unwrap();
    assert_eq!(header.rc_limit, u64::MAX);
}

#[test]
fn gateway_params_with_wrong_encodings_are_rejected() {
    for bad in [
        json!({"nonce": "KAE"}),
        json!({"nonce": "+/8="}),
        json!({"payer": "0OIl"}),
        json!({"rc_limit": -1}),
        json!({"rc_limit": 1.5}),
        json!({"rc_limit": true}),
    ] {
        assert!(
            from_value::<protocol::TransactionHeader>(&bad).is_err(),
            "{bad}"
        );
    }
    assert!(from_value::<BlockTopology>(&json!({"id": "1220"})).is_err());
    assert!(from_value::<BlockTopology>(&json!([1])).is_err());
}
