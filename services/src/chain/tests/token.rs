//! The native KCS-4 token: every method, events, authority and reversions (docs/protocol.md
//! "KCS-4 token").

use koinos_protocol::pb::koinos::contracts::token as kcs4;
use koinos_protocol::pb::koinos::protocol::{Operation, UploadContractOperation, operation::Op};

use super::*;
use crate::chain::error::code;

fn read<M: Message + Default>(f: &Fixture, entry_point: u32, args: Vec<u8>) -> M {
    let (result, _) = f.chain.read_contract(&f.token, entry_point, &args).unwrap();
    M::decode(result.as_slice()).unwrap()
}

#[test]
fn read_only_methods_report_genesis_values() {
    let f = Fixture::new();
    let info: kcs4::GetInfoResult = read(&f, entry::GET_INFO, vec![]);
    assert_eq!(
        (info.name.as_str(), info.symbol.as_str(), info.decimals),
        ("Koinos Devnet", "KOIN", 8)
    );
    assert_eq!(
        read::<kcs4::NameResult>(&f, entry::NAME, vec![]).value,
        "Koinos Devnet"
    );
    assert_eq!(
        read::<kcs4::SymbolResult>(&f, entry::SYMBOL, vec![]).value,
        "KOIN"
    );
    assert_eq!(
        read::<kcs4::DecimalsResult>(&f, entry::DECIMALS, vec![]).value,
        8
    );
    assert_eq!(
        read::<kcs4::TotalSupplyResult>(&f, entry::TOTAL_SUPPLY, vec![]).value,
        1_000_000
    );
    assert_eq!(f.balance(f.alice.address().as_bytes()), 1_000_000);
    assert_eq!(f.balance(f.bob.address().as_bytes()), 0);
}

#[test]
fn transfer_moves_balance_and_emits_event() {
    let mut f = Fixture::new();
    let committed = f.produce(vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 250)]);
    assert_eq!(f.balance(f.alice.address().as_bytes()), 999_750);
    assert_eq!(f.balance(f.bob.address().as_bytes()), 250);
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(!receipt.reverted);
    let event = &receipt.events[0];
    assert_eq!(event.name, "token.transfer_event");
    assert_eq!(event.source, f.token);
    assert_eq!(
        event.impacted,
        vec![f.bob.address().to_vec(), f.alice.address().to_vec()]
    );
    let data = kcs4::TransferEvent::decode(event.data.as_slice()).unwrap();
    assert_eq!(
        (data.from, data.to, data.value),
        (f.alice.address().to_vec(), f.bob.address().to_vec(), 250)
    );
    // Both balances and the nonce are in the transaction's state delta.
    assert_eq!(receipt.state_delta_entries.len(), 3);
    assert!(
        committed.receipt.state_delta_entries.len() >= 4,
        "plus head_block"
    );
}

#[test]
fn unauthorized_transfer_and_overdraft_revert_but_are_included() {
    let mut f = Fixture::new();
    // Bob signs a transfer from Alice's account.
    let op = builder::transfer_operation(
        &f.token,
        f.alice.address().as_bytes(),
        f.bob.address().as_bytes(),
        5,
    );
    let stolen = f.tx(&f.bob, vec![op]);
    let committed = f.produce(vec![stolen]);
    assert!(committed.receipt.transaction_receipts[0].reverted);
    let overdraft = f.transfer(&f.alice, f.bob.address().as_bytes(), 2_000_000);
    let committed = f.produce(vec![overdraft]);
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(receipt.reverted && receipt.events.is_empty());
    assert_eq!(f.balance(f.alice.address().as_bytes()), 1_000_000);
    // The reverted transactions still used their nonces.
    assert_eq!(f.next_nonce(&f.alice), 2);
    assert_eq!(f.next_nonce(&f.bob), 2);
}

#[test]
fn mint_only_by_the_genesis_key() {
    let mut f = Fixture::new();
    let mint = |to: &[u8], value| {
        let args = kcs4::MintArguments {
            to: to.to_vec(),
            value,
            memo: Some("hi".into()),
        };
        builder::call_operation(&f.token, entry::MINT, args.encode_to_vec())
    };
    let by_alice = f.tx(&f.alice, vec![mint(f.alice.address().as_bytes(), 5)]);
    let by_producer = f.tx(&f.producer, vec![mint(f.bob.address().as_bytes(), 7)]);
    let committed = f.produce(vec![by_alice, by_producer]);
    assert!(committed.receipt.transaction_receipts[0].reverted);
    let receipt = &committed.receipt.transaction_receipts[1];
    assert!(!receipt.reverted);
    assert_eq!(receipt.events[0].name, "token.mint_event");
    assert_eq!(f.balance(f.bob.address().as_bytes()), 7);
    assert_eq!(
        read::<kcs4::TotalSupplyResult>(&f, entry::TOTAL_SUPPLY, vec![]).value,
        1_000_007
    );
}

#[test]
fn burn_reduces_balance_and_supply() {
    let mut f = Fixture::new();
    let args = kcs4::BurnArguments {
        from: f.alice.address().to_vec(),
        value: 100,
        memo: None,
    };
    let op = builder::call_operation(&f.token, entry::BURN, args.encode_to_vec());
    let committed = f.produce(vec![f.tx(&f.alice, vec![op])]);
    assert_eq!(
        committed.receipt.transaction_receipts[0].events[0].name,
        "token.burn_event"
    );
    assert_eq!(f.balance(f.alice.address().as_bytes()), 999_900);
    assert_eq!(
        read::<kcs4::TotalSupplyResult>(&f, entry::TOTAL_SUPPLY, vec![]).value,
        999_900
    );
}

#[test]
fn approve_allowance_and_spending_through_it() {
    let mut f = Fixture::new();
    let carol = PrivateKey::from_seed("carol").address().to_vec();
    let approve = |spender: &[u8], value| {
        let args = kcs4::ApproveArguments {
            owner: f.alice.address().to_vec(),
            spender: spender.to_vec(),
            value,
            memo: None,
        };
        builder::call_operation(&f.token, entry::APPROVE, args.encode_to_vec())
    };
    let committed = f.produce(vec![f.tx(
        &f.alice,
        vec![
            approve(f.bob.address().as_bytes(), 300),
            approve(&carol, 50),
        ],
    )]);
    assert_eq!(
        committed.receipt.transaction_receipts[0].events[0].name,
        "token.approve_event"
    );
    let args = kcs4::AllowanceArguments {
        owner: f.alice.address().to_vec(),
        spender: f.bob.address().to_vec(),
    }
    .encode_to_vec();
    assert_eq!(
        read::<kcs4::AllowanceResult>(&f, entry::ALLOWANCE, args).value,
        300
    );

    let list = |start: Vec<u8>, limit, descending| {
        let args = kcs4::GetAllowancesArguments {
            owner: f.alice.address().to_vec(),
            start,
            limit,
            descending,
        };
        read::<kcs4::GetAllowancesResult>(&f, entry::GET_ALLOWANCES, args.encode_to_vec())
    };
    let all = list(vec![], 10, false);
    let mut expected = vec![(f.bob.address().to_vec(), 300), (carol.clone(), 50)];
    expected.sort();
    let got: Vec<_> = all
        .allowances
        .iter()
        .map(|a| (a.spender.clone(), a.value))
        .collect();
    assert_eq!(got, expected);
    let desc = list(vec![], 1, true);
    assert_eq!(desc.allowances[0].spender, expected[1].0);
    let after_first = list(expected[0].0.clone(), 10, false);
    assert_eq!(after_first.allowances.len(), 1);
    assert_eq!(after_first.allowances[0].spender, expected[1].0);

    // Bob spends 200 of Alice's tokens through the allowance.
    let op = builder::transfer_operation(&f.token, f.alice.address().as_bytes(), &carol, 200);
    let committed = f.produce(vec![f.tx(&f.bob, vec![op])]);
    assert!(!committed.receipt.transaction_receipts[0].reverted);
    assert_eq!(f.balance(&carol), 200);
    let args = kcs4::AllowanceArguments {
        owner: f.alice.address().to_vec(),
        spender: f.bob.address().to_vec(),
    }
    .encode_to_vec();
    assert_eq!(
        read::<kcs4::AllowanceResult>(&f, entry::ALLOWANCE, args).value,
        100
    );
}

#[test]
fn uploaded_contracts_are_stored_and_a_module_without_start_reverts() {
    let mut f = Fixture::new();
    let contract = PrivateKey::from_seed("my contract");
    let upload = Operation {
        op: Some(Op::UploadContract(UploadContractOperation {
            contract_id: contract.address().to_vec(),
            bytecode: b"\0asm\x01\0\0\0".to_vec(),
            abi: "{}".into(),
            ..Default::default()
        })),
    };
    let committed = f.produce(vec![f.tx(&contract, vec![upload])]);
    assert!(!committed.receipt.transaction_receipts[0].reverted);
    let error = f
        .chain
        .read_contract(contract.address().as_bytes(), 1, &[])
        .unwrap_err();
    assert_eq!(error.code, code::REVERSION);
    assert_eq!(error.message, "module does not have _start function");
    let call = builder::call_operation(contract.address().as_bytes(), 1, vec![]);
    let committed = f.produce(vec![f.tx(&f.alice, vec![call])]);
    let receipt = &committed.receipt.transaction_receipts[0];
    assert!(receipt.reverted && receipt.logs[0].contains("_start"));
    // The native token cannot be replaced.
    let token_key = PrivateKey::from_seed("token");
    let replace = Operation {
        op: Some(Op::UploadContract(UploadContractOperation {
            contract_id: f.token.clone(),
            ..Default::default()
        })),
    };
    let committed = f.produce(vec![f.tx(&token_key, vec![replace])]);
    assert!(committed.receipt.transaction_receipts[0].reverted);
    assert_eq!(f.balance(f.alice.address().as_bytes()), 1_000_000);
}

#[test]
fn read_only_calls_cannot_write() {
    let f = Fixture::new();
    let args = kcs4::TransferArguments {
        from: f.alice.address().to_vec(),
        to: f.bob.address().to_vec(),
        value: 1,
        memo: None,
    };
    let error = f
        .chain
        .read_contract(&f.token, entry::TRANSFER, &args.encode_to_vec())
        .unwrap_err();
    assert!(error.is_reversion());
    let error = f.chain.read_contract(&f.token, 0x1234, &[]).unwrap_err();
    assert_eq!(error.code, code::REVERSION);
}
