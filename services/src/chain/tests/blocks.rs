//! Each invalid block class is rejected with the official chain's code (docs/protocol.md
//! "Applying a block").

use super::*;
use crate::chain::error::code;
use koinos_protocol::nonce::encode_nonce;

fn resign(mut block: Block, key: &PrivateKey) -> Block {
    block.signature = key.sign_id(&block.id).unwrap().to_vec();
    block
}

#[test]
fn valid_block_is_applied_and_becomes_head() {
    let mut f = Fixture::new();
    let committed = f.produce(vec![]);
    assert!(committed.is_head);
    assert_eq!(committed.receipt.height, 1);
    assert_eq!(f.chain.head().height, 1);
    assert_eq!(
        committed.receipt.state_merkle_root,
        f.chain.head().state_merkle_root
    );
}

#[test]
fn missing_required_fields_fail_with_1002() {
    let f = Fixture::new();
    let good = f.next_block(vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 1)]);
    type Mutation = Box<dyn Fn(&mut Block)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        ("id", Box::new(|b| b.id.clear())),
        ("header", Box::new(|b| b.header = None)),
        (
            "previous",
            Box::new(|b| b.header.as_mut().unwrap().previous.clear()),
        ),
        (
            "height",
            Box::new(|b| b.header.as_mut().unwrap().height = 0),
        ),
        (
            "timestamp",
            Box::new(|b| b.header.as_mut().unwrap().timestamp = 0),
        ),
        (
            "previous_state_merkle_root",
            Box::new(|b| {
                b.header
                    .as_mut()
                    .unwrap()
                    .previous_state_merkle_root
                    .clear()
            }),
        ),
        (
            "transaction_merkle_root",
            Box::new(|b| b.header.as_mut().unwrap().transaction_merkle_root.clear()),
        ),
        ("signature", Box::new(|b| b.signature.clear())),
        (
            "transaction signatures",
            Box::new(|b| b.transactions[0].signatures.clear()),
        ),
        (
            "transaction rc_limit",
            Box::new(|b| b.transactions[0].header.as_mut().unwrap().rc_limit = 0),
        ),
        (
            "transaction payer",
            Box::new(|b| b.transactions[0].header.as_mut().unwrap().payer.clear()),
        ),
        ("transaction id", Box::new(|b| b.transactions[0].id.clear())),
        (
            "transaction operation root",
            Box::new(|b| {
                b.transactions[0]
                    .header
                    .as_mut()
                    .unwrap()
                    .operation_merkle_root
                    .clear()
            }),
        ),
    ];
    for (name, mutate) in mutations {
        let mut block = good.clone();
        mutate(&mut block);
        let result = f.chain.prepare(&block, f.now(), BlockMode::Submit);
        assert_eq!(
            code_of(result),
            code::MISSING_REQUIRED_ARGUMENTS,
            "missing {name}"
        );
    }
}

#[test]
fn known_block_returns_no_receipt() {
    let mut f = Fixture::new();
    let block = f.next_block(vec![]);
    assert!(f.submit(&block).unwrap().is_some());
    assert!(f.submit(&block).unwrap().is_none());
}

#[test]
fn unknown_parent_fails_with_1003_and_pre_lib_block_with_1015() {
    let mut f = Fixture::new();
    let mut orphan_parent = f.chain.head().clone();
    orphan_parent.id = vec![0x12, 0x20, 7, 7, 7];
    orphan_parent.height = 5;
    let orphan = builder::block(&orphan_parent, T0 + 500, vec![], &f.producer);
    assert_eq!(code_of(f.submit(&orphan)), code::UNKNOWN_PREVIOUS_BLOCK);
    for _ in 0..62 {
        f.produce(vec![]);
    }
    assert_eq!(f.chain.lib().height, 2);
    orphan_parent.height = 0;
    let stale = builder::block(&orphan_parent, T0 + 500, vec![], &f.producer);
    assert_eq!(code_of(f.submit(&stale)), code::PRE_IRREVERSIBILITY_BLOCK);
}

#[test]
fn wrong_height_fails_with_1004() {
    let f = Fixture::new();
    let mut block = f.next_block(vec![]);
    block.header.as_mut().unwrap().height = 3;
    let block = builder::seal_block(block, &f.producer);
    assert_eq!(
        code_of(f.chain.prepare(&block, f.now(), BlockMode::Submit)),
        code::UNEXPECTED_HEIGHT
    );
}

#[test]
fn timestamps_outside_bounds_fail_with_1010() {
    let mut f = Fixture::new();
    f.produce(vec![]);
    let head = f.chain.head().clone();
    let same_time = builder::block(&head, head.timestamp, vec![], &f.producer);
    assert_eq!(code_of(f.submit(&same_time)), code::TIMESTAMP_OUT_OF_BOUNDS);
    let future = builder::block(&head, head.timestamp + 10_000, vec![], &f.producer);
    let result = f.chain.submit_block(&future, head.timestamp + 4_000);
    assert_eq!(code_of(result), code::TIMESTAMP_OUT_OF_BOUNDS);
    // Exactly now + 5 s is accepted.
    assert!(
        f.chain
            .submit_block(&future, head.timestamp + 5_000)
            .is_ok()
    );
}

#[test]
fn wrong_previous_state_root_fails_with_1006() {
    let f = Fixture::new();
    let mut block = f.next_block(vec![]);
    block.header.as_mut().unwrap().previous_state_merkle_root = vec![0x12, 0x20, 1];
    let block = builder::seal_block(block, &f.producer);
    assert_eq!(
        code_of(f.chain.prepare(&block, f.now(), BlockMode::Submit)),
        code::STATE_MERKLE_MISMATCH
    );
}

#[test]
fn wrong_block_id_fails_with_203() {
    let f = Fixture::new();
    let mut block = f.next_block(vec![]);
    block.id[5] ^= 1;
    let block = resign(block, &f.producer);
    assert_eq!(
        code_of(f.chain.prepare(&block, f.now(), BlockMode::Submit)),
        code::MALFORMED_BLOCK
    );
    // Another hash code is just another id: it does not match (the official chain's check).
    let mut other_hash = f.next_block(vec![]);
    other_hash.id[0] = 0x13;
    assert_eq!(
        code_of(f.chain.prepare(&other_hash, f.now(), BlockMode::Submit)),
        code::MALFORMED_BLOCK
    );
}

#[test]
fn wrong_transaction_root_fails_with_203() {
    let f = Fixture::new();
    let tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let mut block = f.next_block(vec![tx]);
    // Dropping the transaction after sealing breaks the root but keeps a valid id and signature.
    block.transactions.clear();
    assert_eq!(
        code_of(f.chain.prepare(&block, f.now(), BlockMode::Submit)),
        code::MALFORMED_BLOCK
    );
}

#[test]
fn block_not_signed_by_the_genesis_key_fails_with_202() {
    let f = Fixture::new();
    let block = resign(f.next_block(vec![]), &f.alice);
    assert_eq!(
        code_of(f.chain.prepare(&block, f.now(), BlockMode::Submit)),
        code::INVALID_SIGNATURE
    );
    let mut garbage = f.next_block(vec![]);
    garbage.signature = vec![1; 65];
    assert_eq!(
        code_of(f.chain.prepare(&garbage, f.now(), BlockMode::Submit)),
        code::INVALID_SIGNATURE
    );
}

#[test]
fn failing_transaction_fails_submitted_block_with_its_id() {
    let f = Fixture::new();
    let mut tx = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    tx.header.as_mut().unwrap().nonce = encode_nonce(9);
    let tx = builder::seal_transaction(
        Transaction {
            signatures: vec![],
            ..tx
        },
        &f.alice,
    );
    let block = f.next_block(vec![tx.clone()]);
    let error = f
        .chain
        .prepare(&block, f.now(), BlockMode::Submit)
        .unwrap_err();
    assert_eq!(error.code, code::INVALID_NONCE);
    assert_eq!(error.transaction_id, Some(tx.id));
}

#[test]
fn proposal_reports_failing_transaction_indices() {
    let f = Fixture::new();
    let good = f.transfer(&f.alice, f.bob.address().as_bytes(), 1);
    let mut bad = f.tx(&f.bob, vec![]);
    bad.header.as_mut().unwrap().chain_id = vec![1, 2, 3];
    let bad = builder::seal_transaction(
        Transaction {
            signatures: vec![],
            ..bad
        },
        &f.bob,
    );
    let block = f.next_block(vec![good.clone(), bad]);
    match f.propose(&block).unwrap() {
        BlockOutcome::FailedTransactions(indices) => assert_eq!(indices, vec![1]),
        other => panic!("expected failed indices, got {other:?}"),
    }
    let block = f.next_block(vec![good]);
    assert!(matches!(
        f.propose(&block).unwrap(),
        BlockOutcome::Applied(_)
    ));
}

#[test]
fn block_over_the_network_limit_fails_with_1012() {
    let f = Fixture::new();
    // One transaction carrying ~1.1 MB of arguments exceeds the 1 MiB block network limit.
    let op = builder::call_operation(&f.token, entry::NAME, vec![0; 1_100_000]);
    let block = f.next_block(vec![f.tx(&f.alice, vec![op])]);
    let mut big_rc = block.clone();
    big_rc.transactions[0].header.as_mut().unwrap().rc_limit = u64::from(u32::MAX) * 100;
    let tx = builder::seal_transaction(
        Transaction {
            signatures: vec![],
            ..big_rc.transactions[0].clone()
        },
        &f.alice,
    );
    let block = f.next_block(vec![tx]);
    assert_eq!(
        code_of(f.chain.prepare(&block, f.now(), BlockMode::Submit)),
        code::NETWORK_BANDWIDTH_LIMIT_EXCEEDED
    );
}

/// The system operations emit the official chain's events: no source, no impacted accounts.
#[test]
fn system_operations_emit_the_official_events() {
    use koinos_protocol::chain::{SetSystemCallEvent, SetSystemContractEvent, SystemCallId};
    use koinos_protocol::pb::koinos::protocol::{
        EventData, SetSystemCallOperation, SetSystemContractOperation, SystemCallTarget,
        operation::Op, system_call_target::Target,
    };
    let mut f = Fixture::new();
    let target = SystemCallTarget {
        target: Some(Target::ThunkId(SystemCallId::GetHeadInfo as u32)),
    };
    let set_call = Operation {
        op: Some(Op::SetSystemCall(SetSystemCallOperation {
            call_id: SystemCallId::GetHeadInfo as u32,
            target: Some(target.clone()),
        })),
    };
    let set_contract = Operation {
        op: Some(Op::SetSystemContract(SetSystemContractOperation {
            contract_id: f.token.clone(),
            system_contract: true,
        })),
    };
    let tx = f.tx(&f.producer, vec![set_call, set_contract]);
    let committed = f.produce(vec![tx]);
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(!receipt.reverted, "{:?}", receipt.logs);
    let event = |sequence: u32, name: &str, data: Vec<u8>| EventData {
        sequence,
        source: Vec::new(),
        name: name.to_string(),
        data,
        impacted: Vec::new(),
    };
    let call_event = SetSystemCallEvent {
        call_id: SystemCallId::GetHeadInfo as u32,
        target: Some(target),
    };
    let contract_event = SetSystemContractEvent {
        contract_id: f.token.clone(),
        system_contract: true,
    };
    assert_eq!(
        receipt.events,
        [
            event(
                0,
                "koinos.chain.set_system_call_event",
                call_event.encode_to_vec()
            ),
            event(
                1,
                "koinos.chain.set_system_contract_event",
                contract_event.encode_to_vec()
            ),
        ]
    );
}

/// `set_system_call` takes only an override the official chain takes: an existing system
/// contract (never for `call`) or an existing thunk; anything else reverts with its reason.
#[test]
fn set_system_call_refuses_what_the_official_chain_refuses() {
    use koinos_protocol::chain::SystemCallId;
    use koinos_protocol::pb::koinos::protocol::{
        ContractCallBundle, SetSystemCallOperation, SetSystemContractOperation, SystemCallTarget,
        operation::Op, system_call_target::Target,
    };
    let mut f = Fixture::new();
    let set_call = |call_id: SystemCallId, target: Target| Operation {
        op: Some(Op::SetSystemCall(SetSystemCallOperation {
            call_id: call_id as u32,
            target: Some(SystemCallTarget {
                target: Some(target),
            }),
        })),
    };
    let bundle = |contract_id: &[u8]| {
        Target::SystemCallBundle(ContractCallBundle {
            contract_id: contract_id.to_vec(),
            entry_point: 0,
        })
    };
    let not_system = Operation {
        op: Some(Op::SetSystemContract(SetSystemContractOperation {
            contract_id: f.token.clone(),
            system_contract: false,
        })),
    };
    let cases = [
        (
            vec![set_call(SystemCallId::GetHeadInfo, bundle(&[7; 25]))],
            "contract does not exist",
        ),
        (
            vec![set_call(SystemCallId::Call, bundle(&f.token))],
            "cannot override call_contract",
        ),
        (
            vec![
                not_system,
                set_call(SystemCallId::GetHeadInfo, bundle(&f.token)),
            ],
            "contract is not a system contract",
        ),
        (
            vec![set_call(SystemCallId::GetHeadInfo, Target::ThunkId(9999))],
            "thunk 9999 does not exist",
        ),
    ];
    for (operations, reason) in cases {
        let tx = f.tx(&f.producer, operations);
        let committed = f.produce(vec![tx]);
        let receipt = &committed.receipt.transaction_receipts[0];
        assert!(receipt.reverted, "{reason}: {:?}", receipt.logs);
        assert!(
            receipt.logs.iter().any(|l| l.contains(reason)),
            "{reason}: {:?}",
            receipt.logs
        );
    }
}
