//! Contracts compiled by the official AssemblyScript toolchain (`compat/contracts/build.sh`
//! writes them to `target/contracts/`, or `KOINOS_CONTRACTS_DIR`) uploaded to and run by the
//! chain: the KCS-4 token of `@koinosbox/contracts` is uploaded, minted (only by a transaction
//! the contract's own key signs), transferred (only with the sender's signature) and read.

mod fuzz_chain_support;

use std::path::PathBuf;

use fuzz_chain_support::wat_contracts::{constant_contract, system_call_contract};
use fuzz_chain_support::{ChainFixture, RC_LIMIT, system_override};
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::pb::koinos::contracts::token::{
    BalanceOfArguments, BalanceOfResult, MintArguments, NameResult, TransferArguments,
};
use koinos_protocol::pb::koinos::protocol::{
    Operation, TransactionReceipt, UploadContractOperation, operation::Op,
};
use koinos_services::chain::builder;
use koinos_services::chain::token::entry;
use prost::Message;

fn contract(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("KOINOS_CONTRACTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/contracts"),
        PathBuf::from,
    );
    std::fs::read(dir.join(name)).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run compat/contracts/build.sh",
            dir.join(name).display()
        )
    })
}

/// Applies one block with `operations` in one transaction paid and signed by `payer`, and
/// returns the transaction's receipt.
fn apply(
    fixture: &mut ChainFixture,
    payer: &PrivateKey,
    operations: Vec<Operation>,
) -> TransactionReceipt {
    fixture.apply(payer, operations, RC_LIMIT)
}

fn balance(fixture: &ChainFixture, token: &[u8], owner: &PrivateKey) -> u64 {
    let args = BalanceOfArguments {
        owner: owner.address().to_vec(),
    };
    let (result, _) = fixture
        .chain
        .read_contract(token, entry::BALANCE_OF, &args.encode_to_vec())
        .expect("balance_of reads");
    BalanceOfResult::decode(result.as_slice()).unwrap().value
}

#[test]
fn the_official_toolchain_token_runs_on_the_chain() {
    let mut fixture = ChainFixture::new();
    let koin = PrivateKey::from_seed("wasm koin");
    let id = koin.address().to_vec();
    let (alice, bob) = (fixture.alice.clone(), fixture.bob.clone());

    let upload = Operation {
        op: Some(Op::UploadContract(UploadContractOperation {
            contract_id: id.clone(),
            bytecode: contract("koin.wasm"),
            ..Default::default()
        })),
    };
    let receipt = apply(&mut fixture, &koin, vec![upload]);
    assert!(!receipt.reverted, "upload: {:?}", receipt.logs);

    let (name, _) = fixture.chain.read_contract(&id, entry::NAME, &[]).unwrap();
    assert_eq!(NameResult::decode(name.as_slice()).unwrap().value, "Koin");

    // mint: only a transaction signed by the contract's own key
    let mint = |value| {
        builder::call_operation(
            &id,
            entry::MINT,
            MintArguments {
                to: alice.address().to_vec(),
                value,
                memo: None,
            }
            .encode_to_vec(),
        )
    };
    let refused = apply(&mut fixture, &alice, vec![mint(5)]);
    assert!(refused.reverted);
    assert!(
        refused
            .logs
            .iter()
            .any(|l| l.contains("owner has not authorized mint")),
        "{:?}",
        refused.logs
    );
    let minted = apply(&mut fixture, &koin, vec![mint(1_000)]);
    assert!(!minted.reverted, "mint: {:?}", minted.logs);
    assert_eq!(minted.events.len(), 1, "{:?}", minted.events);
    assert_eq!(minted.events[0].source, id);
    assert!(minted.compute_bandwidth_used > 0);
    assert_eq!(balance(&fixture, &id, &alice), 1_000);

    // transfer: the sender's signature authorizes it; a forged sender is refused
    let transfer = |from: &PrivateKey, value| {
        builder::call_operation(
            &id,
            entry::TRANSFER,
            TransferArguments {
                from: from.address().to_vec(),
                to: bob.address().to_vec(),
                value,
                memo: None,
            }
            .encode_to_vec(),
        )
    };
    let sent = apply(&mut fixture, &alice, vec![transfer(&alice, 300)]);
    assert!(!sent.reverted, "transfer: {:?}", sent.logs);
    let forged = apply(&mut fixture, &bob, vec![transfer(&alice, 100)]);
    assert!(forged.reverted);
    assert!(
        forged
            .logs
            .iter()
            .any(|l| l.contains("from has not authorized transfer")),
        "{:?}",
        forged.logs
    );
    assert_eq!(balance(&fixture, &id, &alice), 700);
    assert_eq!(balance(&fixture, &id, &bob), 300);
}

/// Each misbehaving module is a clear error in its receipt, and the chain goes on.
#[test]
fn misbehaving_contracts_revert_with_a_clear_error() {
    let mut fixture = ChainFixture::new();
    let cases = [
        ("invalid_not_wasm.wasm", "could not parse module"),
        ("sign_extension.wasm", "could not parse module"),
        ("trap.wasm", "module exited due to trap"),
        ("oob_store.wasm", "module exited due to trap"),
        ("deep_recursion.wasm", "module exited due to trap"),
        ("uses_float.wasm", "module exited due to trap"),
        // Runs until the transaction's RC limit stops it.
        ("infinite_loop.wasm", "insufficient rc"),
    ];
    for (file, expected) in cases {
        let key = PrivateKey::from_seed(file);
        let id = key.address().to_vec();
        let upload = Operation {
            op: Some(Op::UploadContract(UploadContractOperation {
                contract_id: id.clone(),
                bytecode: contract(&format!("misbehaving/{file}")),
                ..Default::default()
            })),
        };
        let receipt = apply(&mut fixture, &key, vec![upload]);
        assert!(!receipt.reverted, "{file}: upload stores any bytes");
        let alice = fixture.alice.clone();
        let call = builder::call_operation(&id, 1, vec![]);
        let tx = builder::transaction(
            fixture.chain.chain_id(),
            &alice,
            fixture.next_nonce(&alice),
            RC_LIMIT,
            vec![call],
        );
        let block = fixture.next_block(vec![tx]);
        let now = ChainFixture::now_for(&block);
        match fixture
            .chain
            .submit_block(&block, now)
            .map(|c| c.map(Box::new))
        {
            Ok(Some(committed)) => {
                let receipt = &committed.receipt.transaction_receipts[0];
                assert!(receipt.reverted, "{file}");
                assert!(
                    receipt.logs.iter().any(|l| l.contains(expected)),
                    "{file}: {:?}",
                    receipt.logs
                );
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    // The native token still moves.
    let (alice, bob) = (fixture.alice.clone(), fixture.bob.clone());
    let tx = fixture.transfer(&alice, &bob, 5);
    let block = fixture.next_block(vec![tx]);
    let now = ChainFixture::now_for(&block);
    let committed = fixture.chain.submit_block(&block, now).unwrap().unwrap();
    assert!(!committed.receipt.transaction_receipts[0].reverted);
}

#[test]
fn contracts_see_the_head() {
    use koinos_protocol::chain::{
        GetBlockFieldArguments, GetBlockFieldResult, GetHeadInfoResult,
        GetLastIrreversibleBlockResult, value_type,
    };
    let mut fixture = ChainFixture::new();
    let deploy = |fixture: &mut ChainFixture, seed: &str, bytecode: Vec<u8>| {
        fixture.upload(seed, bytecode, RC_LIMIT)
    };
    let head_info = deploy(&mut fixture, "head info", system_call_contract(1, &[]));
    let lib = deploy(&mut fixture, "lib", system_call_contract(106, &[]));

    let (result, _) = fixture.chain.read_contract(&head_info, 0, &[]).unwrap();
    let info = GetHeadInfoResult::decode(result.as_slice())
        .unwrap()
        .value
        .unwrap();
    let head = fixture.chain.head().clone();
    let topology = info.head_topology.unwrap();
    assert_eq!(
        (topology.id, topology.height, topology.previous),
        (head.id, head.height, head.previous)
    );
    assert_eq!(info.head_block_time, head.timestamp);
    assert_eq!(info.last_irreversible_block, head.height.saturating_sub(60));
    let (result, _) = fixture.chain.read_contract(&lib, 0, &[]).unwrap();
    assert_eq!(
        GetLastIrreversibleBlockResult::decode(result.as_slice())
            .unwrap()
            .value,
        head.height.saturating_sub(60)
    );

    // Outside a block, a read and a pending transaction see the head block as their block.
    let field = GetBlockFieldArguments {
        field: "header.height".into(),
    };
    let height = deploy(
        &mut fixture,
        "block field",
        system_call_contract(105, &field.encode_to_vec()),
    );
    let head = fixture.chain.head().clone();
    let (result, _) = fixture.chain.read_contract(&height, 0, &[]).unwrap();
    let value = GetBlockFieldResult::decode(result.as_slice())
        .unwrap()
        .value
        .unwrap();
    assert_eq!(value.kind, Some(value_type::Kind::Uint64Value(head.height)));
    let alice = fixture.alice.clone();
    let tx = builder::transaction(
        fixture.chain.chain_id(),
        &alice,
        fixture.next_nonce(&alice),
        RC_LIMIT,
        vec![builder::call_operation(&height, 0, vec![])],
    );
    let pending = fixture.chain.apply_pending_transaction(&tx, None).unwrap();
    assert!(!pending.receipt.reverted, "{:?}", pending.receipt.logs);
}

/// `get_caller` from a contract a transaction calls directly, or `read_contract` calls, names no
/// caller and user mode, as on the official chain (which drops to user mode before the call); a
/// system contract relying on a kernel caller (pob's `process_block_signature`) is therefore not
/// fooled by a user calling it.
#[test]
fn a_direct_call_has_a_user_mode_caller() {
    use koinos_protocol::chain::{CallerData, GetCallerResult, Privilege};
    // get_caller, then event("caller", <its result>), then exit with that result.
    let wat = r#"(module
      (import "env" "invoke_system_call" (func $sc (param i32 i32 i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 4086) "\0a\06caller\12")
      (func (export "_start") (local $n i32)
        (drop (call $sc (i32.const 605) (i32.const 4096) (i32.const 1024) (i32.const 0) (i32.const 0) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (i32.store8 (i32.const 4095) (local.get $n))
        (drop (call $sc (i32.const 402) (i32.const 0) (i32.const 0)
                        (i32.const 4086) (i32.add (local.get $n) (i32.const 10)) (i32.const 8)))
        (i32.store8 (i32.const 4092) (i32.const 0x12))
        (i32.store8 (i32.const 4093) (i32.add (local.get $n) (i32.const 2)))
        (i32.store8 (i32.const 4094) (i32.const 0x0a))
        (i32.store8 (i32.const 4095) (local.get $n))
        (drop (call $sc (i32.const 602) (i32.const 0) (i32.const 0)
                        (i32.const 4092) (i32.add (local.get $n) (i32.const 4)) (i32.const 8)))))"#;
    let mut fixture = ChainFixture::new();
    let id = fixture.upload("who calls", wat::parse_str(wat).unwrap(), RC_LIMIT);
    let user_caller = CallerData {
        caller: vec![],
        caller_privilege: Privilege::UserMode.into(),
    };
    let caller_of = |bytes: &[u8]| GetCallerResult::decode(bytes).unwrap().value.unwrap();

    let alice = fixture.alice.clone();
    let receipt = apply(
        &mut fixture,
        &alice,
        vec![builder::call_operation(&id, 0, vec![])],
    );
    assert!(!receipt.reverted, "{:?}", receipt.logs);
    assert_eq!(receipt.events.len(), 1, "{:?}", receipt.events);
    assert_eq!(caller_of(&receipt.events[0].data), user_caller);

    let (result, _) = fixture.chain.read_contract(&id, 0, &[]).unwrap();
    assert_eq!(caller_of(&result), user_caller);
}

/// A contract that calls itself through `call` without end reverts at the frame limit; the
/// native stack holds the nesting (this runs on a test thread's 2 MiB stack, in debug).
#[test]
fn unbounded_nested_calls_revert_at_the_frame_limit() {
    let wat = r#"(module
      (import "env" "invoke_system_call" (func $sc (param i32 i32 i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        ;; get_contract_id_result{value = id} is 0a 19 <id>: call_arguments{contract_id = id}
        (drop (call $sc (i32.const 604) (i32.const 100) (i32.const 64) (i32.const 0) (i32.const 0) (i32.const 8)))
        (drop (call $sc (i32.const 601) (i32.const 1024) (i32.const 1024) (i32.const 100) (i32.load (i32.const 8)) (i32.const 8)))))"#;
    let mut fixture = ChainFixture::new();
    let id = fixture.upload("recursive", wat::parse_str(wat).unwrap(), RC_LIMIT);
    let alice = fixture.alice.clone();
    let receipt = apply(
        &mut fixture,
        &alice,
        vec![builder::call_operation(&id, 0, vec![])],
    );
    assert!(receipt.reverted);
    assert!(
        receipt
            .logs
            .iter()
            .any(|l| l.contains("apply context stack overflow")),
        "{:?}",
        receipt.logs
    );
}

/// Block signatures go through the `process_block_signature` system call, as on the official
/// chain: the default thunk wants the genesis key, and a contract the genesis key sets as its
/// override decides instead (mainnet's pob contract works this way).
#[test]
fn a_contract_overriding_process_block_signature_decides_which_blocks_are_signed() {
    use koinos_protocol::chain::{ProcessBlockSignatureResult, SystemCallId};
    let mut fixture = ChainFixture::new();
    let stranger = PrivateKey::from_seed("not the genesis key");
    let signed_by = |fixture: &ChainFixture, key: &PrivateKey| {
        let head = fixture.chain.head();
        let timestamp = head.timestamp + 1000;
        builder::block(head, timestamp, vec![], key)
    };
    let submit = |fixture: &mut ChainFixture, block| {
        let now = ChainFixture::now_for(&block);
        fixture.chain.submit_block(&block, now)
    };

    let block = signed_by(&fixture, &stranger);
    let refused = submit(&mut fixture, block).unwrap_err();
    assert_eq!(
        (refused.code, refused.message.as_str()),
        (-202, "failed to process block signature")
    );

    // Override it with a contract that accepts every block.
    let accept = ProcessBlockSignatureResult { value: true }.encode_to_vec();
    let rule = fixture.upload("signature rule", constant_contract(&accept), RC_LIMIT);
    let set = system_override(SystemCallId::ProcessBlockSignature, &rule);
    let producer = fixture.producer.clone();
    assert!(!apply(&mut fixture, &producer, set).reverted);
    let block = signed_by(&fixture, &stranger);
    let accepted = submit(&mut fixture, block);
    assert!(
        matches!(accepted, Ok(Some(_))),
        "the override accepts the stranger's block: {accepted:?}"
    );

    // An override that refuses is obeyed too, even for the genesis key's own blocks.
    let refuse = ProcessBlockSignatureResult { value: false }.encode_to_vec();
    let refusing = fixture.upload("refusing rule", constant_contract(&refuse), RC_LIMIT);
    let set = system_override(SystemCallId::ProcessBlockSignature, &refusing);
    let tx = builder::transaction(
        fixture.chain.chain_id(),
        &producer,
        fixture.next_nonce(&producer),
        RC_LIMIT,
        set,
    );
    // Signed by the stranger: the accepting override still rules this block.
    let block = builder::block(
        fixture.chain.head(),
        fixture.chain.head().timestamp + 1000,
        vec![tx],
        &stranger,
    );
    assert!(matches!(submit(&mut fixture, block), Ok(Some(_))));
    let block = signed_by(&fixture, &producer);
    let refused = submit(&mut fixture, block).unwrap_err();
    assert_eq!(refused.code, -202);
}
