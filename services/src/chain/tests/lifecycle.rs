//! LIB advance, pruning, restart and catch-up from receipts.

use super::*;
use crate::chain::error::code;

#[test]
fn lib_trails_head_by_sixty_and_forks_are_pruned() {
    let mut f = Fixture::new();
    let genesis_head = f.chain.head().clone();
    // A side fork at height 1 with a later timestamp: fifo keeps the first block as head.
    let main1 = f.next_block(vec![]);
    f.submit(&main1).unwrap();
    let side1 = builder::block(&genesis_head, T0 + 1500, vec![], &f.producer);
    let side = f.submit(&side1).unwrap().unwrap();
    assert!(!side.is_head);
    assert_eq!(side.fork_heads.len(), 2);
    assert_eq!(
        side.fork_heads[0].id, main1.id,
        "head first on a height tie"
    );
    for _ in 0..59 {
        let committed = f.produce(vec![]);
        assert!(committed.new_lib.is_none());
    }
    assert_eq!(f.chain.head().height, 60);
    let committed = f.produce(vec![]);
    assert_eq!(
        committed.new_lib.as_ref().map(|l| l.id.clone()),
        Some(main1.id.clone())
    );
    assert_eq!(committed.lib.height, 1);
    assert_eq!(committed.fork_heads.len(), 1, "the side fork is pruned");
    assert!(f.chain.block_info(&side1.id).is_none());
    // Submitting the pruned side block again: at the LIB's height but not the LIB, its parent is
    // unknown (as the official chain answers); below the LIB it is a pre-LIB block.
    assert_eq!(code_of(f.submit(&side1)), code::UNKNOWN_PREVIOUS_BLOCK);
    f.produce(vec![]);
    assert_eq!(code_of(f.submit(&side1)), code::PRE_IRREVERSIBILITY_BLOCK);
}

#[test]
fn restart_recovers_head_lib_and_balances() {
    let mut f = Fixture::new();
    for i in 0..70 {
        let txs = if i % 10 == 0 {
            vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 1)]
        } else {
            vec![]
        };
        f.produce(txs);
    }
    let head = f.chain.head().clone();
    f.reopen(ForkAlgorithm::Fifo);
    assert_eq!(f.chain.head(), &head);
    assert_eq!(f.chain.lib().height, 10);
    assert_eq!(f.balance(f.bob.address().as_bytes()), 7);
    assert_eq!(f.next_nonce(&f.alice), 8);
    f.produce(vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 1)]);
    assert_eq!(f.balance(f.bob.address().as_bytes()), 8);
}

#[test]
fn catch_up_from_receipts_recovers_the_same_head_on_an_empty_volume() {
    let mut f = Fixture::new();
    let mut stored = Vec::new();
    for i in 0..65 {
        let txs = if i % 5 == 0 {
            vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 3)]
        } else {
            vec![]
        };
        let committed = f.produce(txs);
        stored.push((committed.block, committed.receipt));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = Chain::open(dir.path(), &f.genesis, ForkAlgorithm::Fifo).unwrap();
    fresh.set_durable(false).unwrap();
    for (block, receipt) in &stored {
        assert!(fresh.index_block(block, receipt).unwrap());
    }
    fresh.set_durable(true).unwrap();
    assert_eq!(fresh.head(), f.chain.head());
    assert_eq!(fresh.lib(), f.chain.lib());
    assert_eq!(
        fresh.account_nonce(f.alice.address().as_bytes()).unwrap(),
        f.chain.account_nonce(f.alice.address().as_bytes()).unwrap()
    );
    // Already indexed blocks are skipped; a tampered delta is refused.
    assert!(!fresh.index_block(&stored[64].0, &stored[64].1).unwrap());
    let next = f.produce(vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 1)]);
    let mut bad_receipt = next.receipt.clone();
    bad_receipt.state_delta_entries.pop();
    assert_eq!(
        code_of(fresh.index_block(&next.block, &bad_receipt)),
        code::STATE_MERKLE_MISMATCH
    );
    assert!(fresh.index_block(&next.block, &next.receipt).unwrap());
    assert_eq!(fresh.head(), f.chain.head());
}

#[test]
fn block_time_fork_choice_switches_to_the_earlier_block() {
    let mut f = Fixture::with_algorithm(ForkAlgorithm::BlockTime);
    let root = f.chain.head().clone();
    let late = builder::block(&root, T0 + 2000, vec![], &f.producer);
    let early = builder::block(
        &root,
        T0 + 1000,
        vec![f.transfer(&f.alice, f.bob.address().as_bytes(), 4)],
        &f.producer,
    );
    assert!(f.submit(&late).unwrap().unwrap().is_head);
    let committed = f.submit(&early).unwrap().unwrap();
    assert!(committed.is_head);
    assert_eq!(f.chain.head().id, early.id);
    assert_eq!(
        f.balance(f.bob.address().as_bytes()),
        4,
        "state follows the new head"
    );
}

#[test]
fn state_from_another_genesis_is_refused() {
    let f = Fixture::new();
    let other = devnet::genesis(
        f.bob.address().as_bytes(),
        &f.token,
        devnet::DevnetToken::Native,
        &[],
    );
    drop(f.chain);
    let error = Chain::open(f.dir.path(), &other, ForkAlgorithm::Fifo)
        .err()
        .unwrap();
    assert_eq!(error.code, code::UNEXPECTED_STATE);
}

#[test]
fn pob_fork_choice_by_signer() {
    let mut f = Fixture::with_algorithm(ForkAlgorithm::Pob);
    f.produce(vec![]);
    let parent = f.chain.head().clone();
    let producer = f.producer.clone();
    let (alice, bob) = (f.alice.address().to_vec(), f.bob.address().to_vec());
    let with_signer = |timestamp: u64, signer: &[u8]| {
        let mut block = builder::block(&parent, timestamp, vec![], &producer);
        block.header.as_mut().unwrap().signer = signer.to_vec();
        builder::seal_block(block, &producer)
    };
    let first = with_signer(T0 + 3000, producer.address().as_bytes());
    assert!(f.submit(&first).unwrap().unwrap().is_head);
    // A different signer's later block loses; an earlier one wins.
    let later_other = with_signer(T0 + 3500, &bob);
    assert!(!f.submit(&later_other).unwrap().unwrap().is_head);
    let earlier_other = with_signer(T0 + 2500, &alice);
    assert!(f.submit(&earlier_other).unwrap().unwrap().is_head);
    // Alice double-produces at the same height: her first block loses its place to the best
    // other fork head (the earliest remaining one at this height).
    let twin = with_signer(T0 + 2600, &alice);
    f.submit(&twin).unwrap();
    assert_eq!(
        f.chain.head().id,
        twin.id,
        "twin outranks the parent and first (earlier)"
    );
}
