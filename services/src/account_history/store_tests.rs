use koinos_protocol::pb::koinos::protocol::{
    CallContractOperation, EventData, Operation, TransactionHeader, TransactionReceipt,
    operation::Op,
};
use koinos_protocol::{Block, BlockHeader, BlockReceipt, Transaction};

use super::*;

fn addr(n: u8) -> Vec<u8> {
    vec![0, n]
}

fn block_id(fork: u8, height: u64) -> Vec<u8> {
    vec![0x12, 0x20, fork, height as u8]
}

fn previous(fork: u8, height: u64) -> Vec<u8> {
    if height == 1 {
        ZERO_BLOCK_ID.to_vec()
    } else {
        block_id(fork, height - 1)
    }
}

/// Block `height` of `fork` on `parent`, signed by address 9, holding one transfer-like
/// transaction per `(tx, payer)`: payer → contract 30, whose event impacts address 7.
fn accepted_on(fork: u8, height: u64, parent: Vec<u8>, txs: &[(u8, u8)]) -> BlockAccepted {
    let transactions: Vec<Transaction> = txs
        .iter()
        .map(|(tx, payer)| Transaction {
            id: vec![0x12, 0x20, *tx],
            header: Some(TransactionHeader {
                payer: addr(*payer),
                ..Default::default()
            }),
            operations: vec![Operation {
                op: Some(Op::CallContract(CallContractOperation {
                    contract_id: addr(30),
                    ..Default::default()
                })),
            }],
            ..Default::default()
        })
        .collect();
    let receipts = txs
        .iter()
        .map(|_| TransactionReceipt {
            events: vec![EventData {
                source: addr(30),
                impacted: vec![addr(7)],
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    BlockAccepted {
        block: Some(Block {
            id: block_id(fork, height),
            header: Some(BlockHeader {
                previous: parent,
                height,
                timestamp: 1000 * height,
                signer: addr(9),
                ..Default::default()
            }),
            transactions,
            ..Default::default()
        }),
        receipt: Some(BlockReceipt {
            height,
            transaction_receipts: receipts,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn accepted(fork: u8, height: u64, txs: &[(u8, u8)]) -> BlockAccepted {
    accepted_on(fork, height, previous(fork, height), txs)
}

fn open(dir: &Path) -> AccountHistory {
    AccountHistory::open(dir, false, ForkAlgorithm::Fifo, Whitelist::default()).unwrap()
}

fn query(
    history: &AccountHistory,
    address: u8,
    seq_num: Option<u64>,
    limit: u64,
    ascending: bool,
    irreversible: bool,
) -> Vec<(u64, Vec<u8>)> {
    let request = GetAccountHistoryRequest {
        address: addr(address),
        seq_num,
        limit,
        ascending,
        irreversible,
    };
    history
        .get_account_history(&request)
        .unwrap()
        .into_iter()
        .map(|entry| {
            let id = match entry.record.unwrap() {
                account_history_entry::Record::Trx(t) => t.transaction.unwrap().id,
                account_history_entry::Record::Block(b) => {
                    vec![0xb0, b.header.unwrap().height as u8]
                }
            };
            (entry.seq_num, id)
        })
        .collect()
}

fn tx(n: u8) -> Vec<u8> {
    vec![0x12, 0x20, n]
}

#[test]
fn records_are_numbered_per_address_and_read_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    history.add_block(&accepted(1, 1, &[(1, 3)])).unwrap();
    history
        .add_block(&accepted(1, 2, &[(2, 3), (3, 4)]))
        .unwrap();
    // Payer 3: tx 1, tx 2. Contract 30 and impacted 7: every transaction. Signer 9: blocks.
    let asc = query(&history, 3, None, 10, true, false);
    assert_eq!(asc, vec![(0, tx(1)), (1, tx(2))]);
    assert_eq!(
        query(&history, 30, None, 10, false, false),
        vec![(2, tx(3)), (1, tx(2)), (0, tx(1))]
    );
    assert_eq!(
        query(&history, 7, Some(1), 1, true, false),
        vec![(1, tx(2))]
    );
    assert_eq!(
        query(&history, 7, Some(1), 10, false, false),
        vec![(1, tx(2)), (0, tx(1))]
    );
    assert_eq!(
        query(&history, 9, None, 10, true, false),
        vec![(0, vec![0xb0, 1]), (1, vec![0xb0, 2])]
    );
    assert!(query(&history, 3, Some(5), 10, true, false).is_empty());
    assert!(query(&history, 3, None, 0, true, false).is_empty());
    assert!(query(&history, 55, None, 10, false, false).is_empty());
    // Nothing is irreversible yet.
    assert!(query(&history, 3, None, 10, true, true).is_empty());
    let too_many = GetAccountHistoryRequest {
        address: addr(3),
        limit: MAX_REQUEST_LIMIT + 1,
        ..Default::default()
    };
    let err = history.get_account_history(&too_many).unwrap_err();
    assert_eq!(err.to_string(), "request limit exceeded");
}

#[test]
fn irreversible_records_join_the_reversible_ones_without_renumbering() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    for h in 1..=4 {
        history.add_block(&accepted(1, h, &[(h as u8, 3)])).unwrap();
    }
    assert!(history.commit(&block_id(1, 2)).unwrap());
    assert!(!history.commit(&block_id(1, 2)).unwrap(), "already the LIB");
    assert!(!history.commit(&block_id(5, 5)).unwrap(), "unknown block");
    let all: Vec<_> = (1..=4).map(|n| (n as u64 - 1, tx(n))).collect();
    assert_eq!(query(&history, 3, None, 10, true, false), all);
    assert_eq!(query(&history, 3, None, 10, true, true), all[..2].to_vec());
    // Descending from the newest irreversible record.
    assert_eq!(
        query(&history, 3, None, 10, false, true),
        vec![(1, tx(2)), (0, tx(1))]
    );
    assert_eq!(
        query(&history, 3, Some(2), 2, false, false),
        vec![(2, tx(3)), (1, tx(2))]
    );
    let (lib, head) = history.lib_and_head();
    assert_eq!((lib.height, head.height), (2, 4));
}

#[test]
fn a_losing_fork_leaves_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let history = open(dir.path());
    history.add_block(&accepted(1, 1, &[(1, 3)])).unwrap();
    // Fork 2 from block 1: heads the chain first, with tx 20 paid by address 4.
    history
        .add_block(&accepted_on(2, 2, block_id(1, 1), &[(20, 4)]))
        .unwrap();
    assert_eq!(query(&history, 4, None, 10, true, false), vec![(0, tx(20))]);
    assert_eq!(query(&history, 30, None, 10, true, false).len(), 2);
    // Fork 1 grows past it and wins.
    history.add_block(&accepted(1, 2, &[(2, 3)])).unwrap();
    history.add_block(&accepted(1, 3, &[(3, 3)])).unwrap();
    assert!(query(&history, 4, None, 10, true, false).is_empty());
    assert_eq!(
        query(&history, 30, None, 10, true, false),
        vec![(0, tx(1)), (1, tx(2)), (2, tx(3))]
    );
    // Irreversibility prunes the losing fork for good, also across a restart.
    assert!(history.commit(&block_id(1, 2)).unwrap());
    drop(history);
    let history = open(dir.path());
    assert!(query(&history, 4, None, 10, true, false).is_empty());
    assert_eq!(query(&history, 3, None, 10, true, false).len(), 3);
    assert!(!history.contains(&block_id(2, 2)));
    assert_eq!(
        history
            .add_block(&accepted_on(2, 3, block_id(2, 2), &[]))
            .unwrap(),
        Link::Unlinked
    );
}

#[test]
fn reversible_blocks_and_the_head_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let history = open(dir.path());
        history.add_block(&accepted(1, 1, &[(1, 3)])).unwrap();
        // Two forks at height 2: fifo keeps the first one.
        history.add_block(&accepted(1, 2, &[(2, 3)])).unwrap();
        history
            .add_block(&accepted_on(2, 2, block_id(1, 1), &[(21, 3)]))
            .unwrap();
        assert_eq!(history.lib_and_head().1.id, block_id(1, 2));
    }
    let history = open(dir.path());
    assert_eq!(history.lib_and_head().1.id, block_id(1, 2));
    assert_eq!(
        query(&history, 3, None, 10, true, false),
        vec![(0, tx(1)), (1, tx(2))]
    );
    assert_eq!(
        history.add_block(&accepted(1, 2, &[(2, 3)])).unwrap(),
        Link::Duplicate
    );
    drop(history);
    let reset =
        AccountHistory::open(dir.path(), true, ForkAlgorithm::Fifo, Whitelist::default()).unwrap();
    assert!(query(&reset, 3, None, 10, true, false).is_empty());
    assert_eq!(reset.lib_and_head().1.height, 0);
}

#[test]
fn a_whitelist_limits_the_addresses_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let history = AccountHistory::open(
        dir.path(),
        false,
        ForkAlgorithm::Fifo,
        Whitelist::from_addresses([addr(4)]),
    )
    .unwrap();
    history
        .add_block(&accepted(1, 1, &[(1, 3), (2, 4)]))
        .unwrap();
    history.commit(&block_id(1, 1)).unwrap();
    assert!(query(&history, 3, None, 10, true, true).is_empty());
    assert!(query(&history, 30, None, 10, true, true).is_empty());
    assert_eq!(query(&history, 4, None, 10, true, true), vec![(0, tx(2))]);
}
