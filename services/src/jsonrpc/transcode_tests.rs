//! The transcoder against the general path (`DynamicMessage` + `message_to_value`), which is
//! the reference: same text whenever the transcoder answers.

use koinos_protocol::json::message_to_value;
use koinos_protocol::pb::koinos::block_store::BlockItem;
use koinos_protocol::pb::koinos::protocol::{
    CallContractOperation, EventData, ObjectSpace, SetSystemCallOperation, StateDeltaEntry,
    SystemCallTarget, operation, system_call_target,
};
use koinos_protocol::pb::koinos::rpc::chain::ProposeBlockResponse;
use koinos_protocol::{
    Block, BlockHeader, BlockReceipt, Operation, Transaction, TransactionHeader, TransactionReceipt,
};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use rand::{Rng, SeedableRng};

use super::*;

fn descriptor(name: &str) -> MessageDescriptor {
    koinos_protocol::descriptor_pool()
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("no message {name}"))
}

fn reference(desc: &MessageDescriptor, bytes: &[u8]) -> Option<String> {
    let message = DynamicMessage::decode(desc.clone(), bytes).ok()?;
    Some(message_to_value(&message).ok()?.to_string())
}

fn fast(desc: &MessageDescriptor, bytes: &[u8]) -> Result<String> {
    let mut out = Vec::new();
    Plans::default().message_to_json(desc, bytes, &mut out)?;
    Ok(String::from_utf8(out).expect("utf-8"))
}

/// The transcoder answers and agrees with the reference.
fn assert_same(name: &str, bytes: &[u8]) -> String {
    let desc = descriptor(name);
    let expected = reference(&desc, bytes).expect("the reference decodes it");
    let actual = fast(&desc, bytes).expect("the transcoder handles it");
    assert_eq!(actual, expected, "{name}");
    actual
}

fn block_item(height: u64) -> BlockItem {
    let id = |tag: u8| {
        let mut id = vec![0x12, 0x20, tag];
        id.extend_from_slice(&height.to_be_bytes());
        id.resize(34, 0x42);
        id
    };
    let transaction = Transaction {
        id: id(2),
        header: Some(TransactionHeader {
            chain_id: id(3),
            rc_limit: u64::MAX,
            nonce: vec![0x08, 0x01],
            operation_merkle_root: id(4),
            payer: vec![0; 25],
            payee: Vec::new(),
        }),
        operations: vec![
            Operation {
                op: Some(operation::Op::CallContract(CallContractOperation {
                    contract_id: vec![1; 25],
                    entry_point: 0x27f576ca,
                    args: vec![0x0a; 60],
                })),
            },
            Operation {
                op: Some(operation::Op::SetSystemCall(SetSystemCallOperation {
                    call_id: 12,
                    target: Some(SystemCallTarget {
                        target: Some(system_call_target::Target::ThunkId(0)),
                    }),
                })),
            },
        ],
        signatures: vec![vec![0x1f; 65], Vec::new()],
    };
    let receipt = BlockReceipt {
        id: id(1),
        height,
        compute_bandwidth_used: 500_000,
        transaction_receipts: vec![TransactionReceipt {
            id: id(2),
            rc_used: 300_000,
            reverted: true,
            events: vec![EventData {
                sequence: 0,
                source: vec![1; 25],
                name: "koinos.contracts.token.transfer_event \"quoted\" \\ é \u{1}".into(),
                data: vec![0xff; 7],
                impacted: vec![vec![0; 25], vec![9; 25]],
            }],
            logs: vec!["log line\nnext".into(), String::new()],
            state_delta_entries: vec![
                StateDeltaEntry {
                    object_space: Some(ObjectSpace {
                        system: true,
                        zone: Vec::new(),
                        id: 3,
                    }),
                    key: vec![7; 3],
                    value: Some(Vec::new()),
                },
                StateDeltaEntry {
                    object_space: Some(ObjectSpace::default()),
                    key: Vec::new(),
                    value: None,
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    BlockItem {
        block_id: id(1),
        block_height: height,
        block: Some(Block {
            id: id(1),
            header: Some(BlockHeader {
                previous: id(0),
                height,
                timestamp: 1_700_000_000_000,
                signer: vec![0; 25],
                ..Default::default()
            }),
            transactions: vec![transaction],
            signature: vec![0x20; 65],
        }),
        receipt: Some(receipt),
    }
}

#[test]
fn blocks_with_receipts_render_like_the_general_path() {
    let text = assert_same(
        "koinos.block_store.block_item",
        &block_item(7).encode_to_vec(),
    );
    assert!(text.contains(r#""block_height":"7""#), "{text}");
    let empty = assert_same("koinos.block_store.block_item", &[]);
    assert_eq!(empty, "{}");
    let page = koinos_protocol::rpc::block_store::GetBlocksByHeightResponse {
        block_items: (1..=5).map(block_item).collect(),
    };
    assert_same(
        "koinos.rpc.block_store.get_blocks_by_height_response",
        &page.encode_to_vec(),
    );
}

#[test]
fn packed_and_unpacked_lists_defaults_on_the_wire_and_unknown_fields() {
    let packed = ProposeBlockResponse {
        receipt: None,
        failed_transaction_indices: vec![0, 3, 300],
    }
    .encode_to_vec();
    assert_same("koinos.rpc.chain.propose_block_response", &packed);
    // The same list unpacked, then an unknown field 9 (varint) and 10 (bytes).
    let unpacked = [
        0x10, 0x00, 0x10, 0x03, 0x10, 0xac, 0x02, 0x48, 0x01, 0x52, 0x01, 0x00,
    ];
    assert_same("koinos.rpc.chain.propose_block_response", &unpacked);
    // block_header with height 0 and an empty `previous` on the wire: not rendered; the last
    // of two `timestamp` values wins.
    let header = [0x0a, 0x00, 0x10, 0x00, 0x18, 0x05, 0x18, 0x06];
    let text = assert_same("koinos.protocol.block_header", &header);
    assert_eq!(text, r#"{"timestamp":"6"}"#);
}

#[test]
fn what_it_does_not_handle_is_left_to_the_general_path() {
    let desc = descriptor("koinos.protocol.transaction_receipt");
    // Two members of one oneof (operation.op), a message field seen twice, a wire-type
    // mismatch, invalid UTF-8 in a string, a truncated field.
    for (name, bytes) in [
        (
            "koinos.protocol.operation",
            vec![0x0a, 0x00, 0x12, 0x00], // upload_contract then call_contract
        ),
        ("koinos.protocol.transaction", vec![0x12, 0x00, 0x12, 0x00]),
        ("koinos.protocol.block_header", vec![0x12, 0x00]),
        ("koinos.protocol.event_data", vec![0x1a, 0x01, 0xff]),
        ("koinos.protocol.block_header", vec![0x0a, 0x05, 0x00]),
    ] {
        assert_eq!(fast(&descriptor(name), &bytes), Err(Unsupported), "{name}");
    }
    assert!(fast(&desc, &[]).is_ok());
}

/// Mutated encodings of real messages: whenever the transcoder answers, the general path
/// decodes the same bytes to the same text.
#[test]
fn fuzzed_encodings_render_like_the_general_path_or_are_left_to_it() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6a736f6e);
    let seeds = [
        (
            "koinos.block_store.block_item",
            block_item(3).encode_to_vec(),
        ),
        (
            "koinos.rpc.chain.propose_block_response",
            ProposeBlockResponse {
                receipt: block_item(1).receipt,
                failed_transaction_indices: vec![1, 2],
            }
            .encode_to_vec(),
        ),
    ];
    let mut answered = 0;
    for round in 0..20_000 {
        let (name, seed) = &seeds[round % seeds.len()];
        let desc = descriptor(name);
        let mut bytes = seed.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            match rng.random_range(0..3) {
                0 => bytes[at] = rng.random(),
                1 => bytes.truncate(at),
                _ => bytes[at] ^= 1 << rng.random_range(0..8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if let Ok(text) = fast(&desc, &bytes) {
            answered += 1;
            assert_eq!(Some(text), reference(&desc, &bytes), "{name} {bytes:?}");
        }
    }
    assert!(answered > 1000, "only {answered} answered");
}
