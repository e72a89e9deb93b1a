use koinos_protocol::BlockTopology;
use koinos_protocol::broadcast::{BlockAccepted, TransactionAccepted};
use koinos_protocol::{Block, BlockHeader, Transaction, TransactionHeader, TransactionReceipt};

use super::*;

const ALICE: &[u8] = &[0xa1; 25];
const BOB: &[u8] = &[0xb0; 25];
const EXPIRATION_MS: u64 = 120_000;

fn tx_id(n: u8) -> Vec<u8> {
    let mut id = vec![0x12, 0x20, n];
    id.resize(34, 0x77);
    id
}

fn tx(n: u8, payer: &[u8], payee: &[u8], nonce: u64, rc_limit: u64) -> Transaction {
    Transaction {
        id: tx_id(n),
        header: Some(TransactionHeader {
            rc_limit,
            nonce: encode_nonce(nonce),
            payer: payer.to_vec(),
            payee: payee.to_vec(),
            ..Default::default()
        }),
        signatures: vec![vec![n; 65]],
        ..Default::default()
    }
}

fn accepted(transaction: Transaction, max_payer_rc: u64) -> TransactionAccepted {
    TransactionAccepted {
        receipt: Some(TransactionReceipt {
            id: transaction.id.clone(),
            max_payer_rc,
            rc_limit: transaction.header.as_ref().unwrap().rc_limit,
            disk_storage_used: 11,
            network_bandwidth_used: 22,
            compute_bandwidth_used: 33,
            ..Default::default()
        }),
        transaction: Some(transaction),
        height: 7,
        system_disk_storage_used: 1,
        system_network_bandwidth_used: 2,
        system_compute_bandwidth_used: 3,
    }
}

/// Adds transaction `n` paid by `payer` (nonce `nonce`, rc_limit 10, max RC 1000) at `now_ms`.
fn add(
    pool: &mut Mempool,
    n: u8,
    payer: &[u8],
    nonce: u64,
    now_ms: u64,
) -> Result<u64, MempoolError> {
    pool.add_transaction(&accepted(tx(n, payer, &[], nonce, 10), 1000), now_ms)
        .map(|a| a.pending_rc_used)
}

/// The parent of block 1.
fn zero_id() -> Vec<u8> {
    let mut id = vec![0x12, 0x20];
    id.resize(34, 0);
    id
}

fn block_id(fork: u8, height: u64) -> Vec<u8> {
    let mut id = vec![0x12, 0x20, 0xbb, fork];
    id.extend_from_slice(&height.to_be_bytes());
    id.resize(34, 0);
    id
}

fn block(fork: u8, height: u64, previous: Vec<u8>, txs: &[u8], head: bool) -> BlockAccepted {
    BlockAccepted {
        block: Some(Block {
            id: block_id(fork, height),
            header: Some(BlockHeader {
                previous,
                height,
                ..Default::default()
            }),
            transactions: txs.iter().map(|n| tx(*n, ALICE, &[], 0, 10)).collect(),
            ..Default::default()
        }),
        head,
        live: true,
        ..Default::default()
    }
}

fn ids(pending: &[koinos_protocol::pb::koinos::mempool::PendingTransaction]) -> Vec<Vec<u8>> {
    pending
        .iter()
        .map(|p| p.transaction.as_ref().unwrap().id.clone())
        .collect()
}

fn pending_ids(pool: &Mempool, block: Option<&[u8]>) -> Vec<Vec<u8>> {
    ids(&pool.pending_transactions(MAX_REQUEST_LIMIT, block).unwrap())
}

#[test]
fn accepted_transactions_are_served_fifo_with_their_usage() {
    let mut pool = Mempool::new();
    let accepted = pool
        .add_transaction(&accepted(tx(1, ALICE, &[], 1, 10), 1000), 5)
        .unwrap();
    assert_eq!((accepted.height, accepted.pending_rc_used), (7, 10));
    assert_eq!(accepted.transaction, Some(tx(1, ALICE, &[], 1, 10)));
    add(&mut pool, 2, BOB, 1, 6).unwrap();
    add(&mut pool, 3, ALICE, 2, 7).unwrap();
    assert_eq!(pending_ids(&pool, None), vec![tx_id(1), tx_id(2), tx_id(3)]);
    let first = &pool.pending_transactions(1, None).unwrap()[0];
    assert_eq!(
        (
            first.disk_storage_used,
            first.network_bandwidth_used,
            first.compute_bandwidth_used
        ),
        (11, 22, 33)
    );
    assert_eq!(
        (
            first.system_disk_storage_used,
            first.system_network_bandwidth_used,
            first.system_compute_bandwidth_used
        ),
        (1, 2, 3)
    );
    assert_eq!(
        ids(&pool
            .pending_transactions_by_id(&[tx_id(3), tx_id(9), tx_id(1)], None)
            .unwrap()),
        vec![tx_id(3), tx_id(1)]
    );
    assert_eq!(pool.pending_nonce(ALICE, None).unwrap(), Some(2));
    assert_eq!(pool.pending_transaction_count(ALICE, None).unwrap(), 2);
    assert_eq!(pool.pending_nonce(&[0xcc; 25], None).unwrap(), None);
    assert_eq!(
        pool.pending_transaction_count(&[0xcc; 25], None).unwrap(),
        0
    );
}

#[test]
fn nonces_are_value_types_keyed_by_payee_when_set() {
    assert_eq!(encode_nonce(1), vec![0x28, 0x01]); // "KAE=" in docs/protocol.md "Nonces"
    assert_eq!(encode_nonce(0), vec![0x28, 0x00]);
    let mut pool = Mempool::new();
    pool.add_transaction(&accepted(tx(1, ALICE, BOB, 5, 10), 1000), 0)
        .unwrap();
    assert_eq!(pool.pending_nonce(BOB, None).unwrap(), Some(5));
    assert_eq!(pool.pending_nonce(ALICE, None).unwrap(), None);
    assert!(
        !pool
            .check_account_nonce(BOB, &encode_nonce(5), None)
            .unwrap()
    );
    assert!(
        pool.check_account_nonce(BOB, &encode_nonce(6), None)
            .unwrap()
    );
    assert!(
        pool.check_account_nonce(ALICE, &encode_nonce(5), None)
            .unwrap()
    );
    assert_eq!(
        pool.check_account_nonce(BOB, &[0xff], None),
        Err(MempoolError::InvalidNonce)
    );
}

#[test]
fn duplicates_and_reused_nonces_are_refused() {
    let mut pool = Mempool::new();
    add(&mut pool, 1, ALICE, 1, 0).unwrap();
    assert_eq!(
        add(&mut pool, 1, ALICE, 2, 0),
        Err(MempoolError::DuplicateTransaction)
    );
    assert!(matches!(
        add(&mut pool, 2, ALICE, 1, 0),
        Err(MempoolError::NonceConflict { nonce: 1, .. })
    ));
    assert_eq!(pool.head_pending_count(), 1);
}

#[test]
fn payer_rc_is_reserved_by_pending_limits() {
    let mut pool = Mempool::new();
    let submit = |pool: &mut Mempool, n: u8, rc_limit: u64, max_rc: u64| {
        pool.add_transaction(
            &accepted(tx(n, ALICE, &[], u64::from(n), rc_limit), max_rc),
            0,
        )
    };
    // No record yet: rc_limit <= max_payer_rc.
    assert!(
        pool.check_pending_account_resources(ALICE, 100, 100, None)
            .unwrap()
    );
    assert!(
        !pool
            .check_pending_account_resources(ALICE, 100, 101, None)
            .unwrap()
    );
    assert!(matches!(
        submit(&mut pool, 1, 101, 100),
        Err(MempoolError::ExceedsResources(_))
    ));
    assert_eq!(submit(&mut pool, 1, 60, 100).unwrap().pending_rc_used, 60);
    assert_eq!(pool.reserved_account_rc(ALICE), 60);
    // With a record: current (40) + (new max − old max) − rc_limit >= 0.
    assert!(
        pool.check_pending_account_resources(ALICE, 100, 40, None)
            .unwrap()
    );
    assert!(
        !pool
            .check_pending_account_resources(ALICE, 100, 41, None)
            .unwrap()
    );
    assert!(
        pool.check_pending_account_resources(ALICE, 150, 90, None)
            .unwrap()
    );
    assert!(matches!(
        submit(&mut pool, 2, 50, 100),
        Err(MempoolError::ExceedsResources(_))
    ));
    assert_eq!(submit(&mut pool, 2, 50, 150).unwrap().pending_rc_used, 110);
    assert_eq!(pool.reserved_account_rc(ALICE), 110);
    assert_eq!(pool.reserved_account_rc(BOB), 0);
    // Removing the transactions releases the reservation.
    pool.remove_transactions(&[tx_id(1)]);
    assert_eq!(pool.reserved_account_rc(ALICE), 50);
    pool.remove_transactions(&[tx_id(2)]);
    assert_eq!(pool.reserved_account_rc(ALICE), 0);
    assert!(
        pool.check_pending_account_resources(ALICE, 100, 100, None)
            .unwrap()
    );
}

#[test]
fn a_block_forks_its_parents_pending_set_minus_its_transactions() {
    let mut pool = Mempool::new();
    add(&mut pool, 1, ALICE, 1, 0).unwrap();
    add(&mut pool, 2, BOB, 1, 0).unwrap();
    let b1 = block(1, 1, zero_id(), &[1], true);
    assert_eq!(
        pool.apply_block(&b1).unwrap(),
        BlockOutcome::Applied(vec![block_id(1, 1)])
    );
    assert_eq!(pool.head(), (block_id(1, 1).as_slice(), 1));
    assert_eq!(pending_ids(&pool, None), vec![tx_id(2)]);
    // Tx 1 may be re-submitted on the new head: its nonce is free there again.
    assert!(
        pool.check_account_nonce(ALICE, &encode_nonce(1), Some(&block_id(1, 1)))
            .unwrap()
    );
    // A sibling of block 1 at the same height does not become head unless chain says so.
    assert_eq!(
        pool.apply_block(&block(2, 1, zero_id(), &[2], false))
            .unwrap(),
        BlockOutcome::Applied(vec![block_id(2, 1)])
    );
    assert_eq!(pool.head().0, block_id(1, 1).as_slice());
    assert_eq!(pending_ids(&pool, Some(&block_id(2, 1))), vec![tx_id(1)]);
    // A new transaction joins every fork.
    add(&mut pool, 3, BOB, 2, 0).unwrap();
    assert_eq!(
        pending_ids(&pool, Some(&block_id(1, 1))),
        vec![tx_id(2), tx_id(3)]
    );
    assert_eq!(
        pending_ids(&pool, Some(&block_id(2, 1))),
        vec![tx_id(1), tx_id(3)]
    );
    // Unknown blocks are errors once blocks were heard of.
    assert_eq!(
        pool.pending_transactions(10, Some(&block_id(9, 9))),
        Err(MempoolError::UnknownBlock("retrieve pending transactions"))
    );
    assert!(pool.pending_nonce(ALICE, Some(&block_id(9, 9))).is_err());
}

#[test]
fn before_any_block_the_block_id_is_ignored_and_the_first_block_attaches_to_the_root() {
    let mut pool = Mempool::new();
    add(&mut pool, 1, ALICE, 1, 0).unwrap();
    assert_eq!(pending_ids(&pool, Some(&block_id(5, 500))), vec![tx_id(1)]);
    // The mempool started mid-chain: block 500's parent was never seen.
    let b = block(5, 500, block_id(5, 499), &[], true);
    assert_eq!(
        pool.apply_block(&b).unwrap(),
        BlockOutcome::Applied(vec![block_id(5, 500)])
    );
    assert_eq!(pending_ids(&pool, Some(&block_id(5, 500))), vec![tx_id(1)]);
}

/// As in the official mempool, only the two listing queries read the root for an unknown
/// `block_id` before any block was heard of; the checks and the nonce queries refuse it.
#[test]
fn before_any_block_only_the_listings_ignore_an_unknown_block_id() {
    let mut pool = Mempool::new();
    add(&mut pool, 1, ALICE, 1, 0).unwrap();
    let unknown = block_id(5, 500);
    assert_eq!(pending_ids(&pool, Some(&unknown)), vec![tx_id(1)]);
    assert_eq!(
        ids(&pool
            .pending_transactions_by_id(&[tx_id(1)], Some(&unknown))
            .unwrap()),
        vec![tx_id(1)]
    );
    let refused = [
        pool.check_pending_account_resources(ALICE, 100, 1, Some(&unknown))
            .map(|_| ())
            .unwrap_err(),
        pool.check_account_nonce(ALICE, &encode_nonce(2), Some(&unknown))
            .map(|_| ())
            .unwrap_err(),
        pool.pending_nonce(ALICE, Some(&unknown))
            .map(|_| ())
            .unwrap_err(),
        pool.pending_transaction_count(ALICE, Some(&unknown))
            .map(|_| ())
            .unwrap_err(),
    ];
    assert_eq!(
        refused.map(|e| e.to_string()),
        [
            "cannot check pending account resources from an unknown block",
            "cannot check pending account resources from an unknown block",
            "cannot check pending nonce from an unknown block",
            "cannot check pending nonce from an unknown block",
        ]
    );
    // Without a block id they read the head (the root here).
    assert_eq!(pool.pending_nonce(ALICE, None).unwrap(), Some(1));
    assert_eq!(pool.pending_transaction_count(ALICE, None).unwrap(), 1);
}

#[test]
fn a_block_with_an_unknown_parent_waits_for_it() {
    let mut pool = Mempool::new();
    pool.apply_block(&block(1, 1, zero_id(), &[], true))
        .unwrap();
    let b3 = block(1, 3, block_id(1, 2), &[], true);
    let b4 = block(1, 4, block_id(1, 3), &[], true);
    assert_eq!(pool.apply_block(&b4).unwrap(), BlockOutcome::Parked);
    assert_eq!(pool.apply_block(&b3).unwrap(), BlockOutcome::Parked);
    assert_eq!(pool.parked_count(), 2);
    let b2 = block(1, 2, block_id(1, 1), &[], true);
    assert_eq!(
        pool.apply_block(&b2).unwrap(),
        BlockOutcome::Applied(vec![block_id(1, 2), block_id(1, 3), block_id(1, 4)])
    );
    assert_eq!(pool.parked_count(), 0);
    assert_eq!(pool.head(), (block_id(1, 4).as_slice(), 4));
}

#[test]
fn failed_transactions_leave_every_fork_head() {
    let mut pool = Mempool::new();
    pool.apply_block(&block(1, 1, zero_id(), &[], true))
        .unwrap();
    pool.apply_block(&block(1, 2, block_id(1, 1), &[], true))
        .unwrap();
    pool.apply_block(&block(2, 2, block_id(1, 1), &[], false))
        .unwrap();
    add(&mut pool, 1, ALICE, 1, 0).unwrap();
    assert_eq!(pool.remove_transactions(&[tx_id(1), tx_id(9)]), 1);
    assert!(pending_ids(&pool, Some(&block_id(1, 2))).is_empty());
    assert!(pending_ids(&pool, Some(&block_id(2, 2))).is_empty());
}

#[test]
fn irreversibility_drops_other_forks_ancestors_and_stale_parked_blocks() {
    let mut pool = Mempool::new();
    pool.apply_block(&block(1, 1, zero_id(), &[], true))
        .unwrap();
    pool.apply_block(&block(1, 2, block_id(1, 1), &[], true))
        .unwrap();
    pool.apply_block(&block(2, 2, block_id(1, 1), &[], false))
        .unwrap();
    pool.apply_block(&block(1, 3, block_id(1, 2), &[], true))
        .unwrap();
    pool.apply_block(&block(3, 2, block_id(3, 1), &[], false))
        .unwrap(); // parked
    pool.apply_block(&block(3, 9, block_id(3, 8), &[], false))
        .unwrap(); // parked
    assert_eq!((pool.node_count(), pool.parked_count()), (5, 2));
    let lib = BlockTopology {
        id: block_id(1, 2),
        height: 2,
        previous: block_id(1, 1),
    };
    pool.apply_irreversible(&lib);
    // Root (block 1/2) and its child 1/3 remain; the root, 1/1 and fork 2 are gone.
    assert_eq!((pool.node_count(), pool.parked_count()), (2, 1));
    assert_eq!(pool.head().0, block_id(1, 3).as_slice());
    assert!(pool.pending_transactions(1, Some(&block_id(2, 2))).is_err());
    // The tree keeps growing from the new root.
    pool.apply_block(&block(1, 4, block_id(1, 3), &[], true))
        .unwrap();
    assert_eq!(pool.head().1, 4);
    // An unknown irreversible block changes nothing.
    pool.apply_irreversible(&BlockTopology {
        id: block_id(7, 7),
        height: 7,
        previous: vec![],
    });
    assert_eq!(pool.node_count(), 3);
}

#[test]
fn transactions_expire_after_the_expiration_window_oldest_first() {
    let mut pool = Mempool::new();
    add(&mut pool, 1, ALICE, 1, 1_000).unwrap();
    add(&mut pool, 2, ALICE, 2, 2_000).unwrap();
    add(&mut pool, 3, BOB, 1, 3_000).unwrap();
    assert_eq!(pool.prune(EXPIRATION_MS, 1_000 + EXPIRATION_MS - 1), 0);
    assert_eq!(pool.prune(EXPIRATION_MS, 2_000 + EXPIRATION_MS), 2);
    assert_eq!(pending_ids(&pool, None), vec![tx_id(3)]);
    assert_eq!(pool.pending_nonce(ALICE, None).unwrap(), None);
    assert_eq!(pool.reserved_account_rc(ALICE), 0);
    assert_eq!(pool.prune(EXPIRATION_MS, u64::MAX), 1);
    assert_eq!(pool.head_pending_count(), 0);
}

#[test]
fn requests_are_limited_to_two_thousand() {
    let pool = Mempool::new();
    assert_eq!(pool.pending_transactions(2000, None).unwrap().len(), 0);
    assert_eq!(
        pool.pending_transactions(2001, None),
        Err(MempoolError::TooManyRequested)
    );
    assert_eq!(
        pool.pending_transactions_by_id(&vec![tx_id(1); 2001], None),
        Err(MempoolError::TooManyRequested)
    );
    assert_eq!(
        MempoolError::TooManyRequested.to_string(),
        "requested too many pending transactions. max: 2000"
    );
}

#[test]
fn checks_without_a_block_consider_every_fork() {
    let mut pool = Mempool::new();
    pool.apply_block(&block(1, 1, zero_id(), &[], true))
        .unwrap();
    // Tx 1 pends on block 1; block 2 includes it, block 2' (another fork) does not.
    add(&mut pool, 1, ALICE, 1, 0).unwrap();
    pool.apply_block(&block(1, 2, block_id(1, 1), &[1], true))
        .unwrap();
    pool.apply_block(&block(2, 2, block_id(1, 1), &[], false))
        .unwrap();
    assert!(
        pool.check_account_nonce(ALICE, &encode_nonce(1), None)
            .unwrap()
    );
    assert!(
        !pool
            .check_account_nonce(ALICE, &encode_nonce(1), Some(&block_id(2, 2)))
            .unwrap()
    );
    // Resources must fit on every fork: block 2' still reserves 10 of ALICE's 15.
    assert!(
        !pool
            .check_pending_account_resources(ALICE, 15, 10, None)
            .unwrap()
    );
    assert!(
        pool.check_pending_account_resources(ALICE, 15, 10, Some(&block_id(1, 2)))
            .unwrap()
    );
    assert_eq!(pool.reserved_account_rc(ALICE), 10);
}

/// koilib's default `rc_limit` is the payer's whole RC. Once a block included the payer's
/// transaction, chain reads the RC left after it; the blocks before (still pending that
/// transaction until irreversibility) must not charge it a second time.
#[test]
fn a_payer_spends_its_whole_rc_in_consecutive_blocks() {
    let mut pool = Mempool::new();
    pool.apply_block(&block(1, 1, zero_id(), &[], true))
        .unwrap();
    let mut rc = 1000;
    for n in 1..=4u8 {
        let height = u64::from(n);
        assert!(
            pool.check_pending_account_resources(ALICE, rc, rc, None)
                .unwrap(),
            "transaction {n}: whole RC {rc} refused"
        );
        assert!(
            pool.check_account_nonce(ALICE, &encode_nonce(height), None)
                .unwrap()
        );
        let accepted = pool
            .add_transaction(&accepted(tx(n, ALICE, &[], height, rc), rc), 0)
            .unwrap_or_else(|e| panic!("transaction {n}: {e}"));
        assert_eq!(accepted.pending_rc_used, rc);
        assert_eq!(pending_ids(&pool, None), vec![tx_id(n)]);
        // A second transaction on top of a pending whole-RC one still does not fit.
        assert!(
            !pool
                .check_pending_account_resources(ALICE, rc, 1, None)
                .unwrap()
        );
        pool.apply_block(&block(1, height + 1, block_id(1, height), &[n], true))
            .unwrap();
        assert!(pending_ids(&pool, None).is_empty());
        assert_eq!(pool.pending_nonce(ALICE, None).unwrap(), None);
        // The transaction used 100 of its limit.
        rc -= 100;
    }
    // Irreversibility still drops the stale blocks.
    pool.apply_irreversible(&BlockTopology {
        id: block_id(1, 5),
        height: 5,
        previous: block_id(1, 4),
    });
    assert_eq!(pool.node_count(), 1);
}
