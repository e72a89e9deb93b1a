use koinos_protocol::pb::koinos::block_store::BlockItem;
use koinos_protocol::{Block, BlockHeader, BlockReceipt};

use super::skip_list::previous_heights;
use super::*;

/// A deterministic 34-byte id for block `height` of `fork`.
fn id(fork: u8, height: u64) -> Vec<u8> {
    let mut id = vec![0x12, 0x20, fork];
    id.extend_from_slice(&height.to_be_bytes());
    id.resize(34, 0xab);
    id
}

fn block(fork: u8, height: u64, previous: Vec<u8>) -> Block {
    Block {
        id: id(fork, height),
        header: Some(BlockHeader {
            previous,
            height,
            timestamp: 1_700_000_000_000 + height * 3000,
            ..Default::default()
        }),
        signature: vec![fork; 65],
        ..Default::default()
    }
}

fn receipt(fork: u8, height: u64) -> BlockReceipt {
    BlockReceipt {
        id: id(fork, height),
        height,
        compute_bandwidth_used: height * 7,
        ..Default::default()
    }
}

/// Adds blocks `from..=to` of `fork`, the first one linked to `parent`.
fn add_chain(store: &BlockStore, fork: u8, from: u64, to: u64, mut parent: Vec<u8>) {
    for h in from..=to {
        store
            .add_block(block(fork, h, parent), Some(receipt(fork, h)))
            .unwrap();
        parent = id(fork, h);
    }
}

fn new_store() -> (tempfile::TempDir, BlockStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path(), false).unwrap();
    (dir, store)
}

fn heights(items: &[BlockItem]) -> Vec<u64> {
    items.iter().map(|i| i.block_height).collect()
}

#[test]
fn an_empty_store_reports_the_zero_block_as_highest() {
    let (_dir, store) = new_store();
    let highest = store.highest_block().unwrap();
    assert_eq!(highest.height, 0);
    assert_eq!(highest.id, ZERO_BLOCK_ID.to_vec());
    assert_eq!(&highest.id[..2], &[0x12, 0x20]);
    assert!(highest.id[2..].iter().all(|b| *b == 0));
}

#[test]
fn records_carry_the_skip_list_of_ancestor_ids() {
    let (_dir, store) = new_store();
    add_chain(&store, 1, 1, 300, ZERO_BLOCK_ID.to_vec());
    assert_eq!(
        store.record(&id(1, 1)).unwrap().unwrap().previous_block_ids,
        vec![ZERO_BLOCK_ID.to_vec()]
    );
    for h in [2u64, 3, 8, 64, 96, 255, 256, 300] {
        let record = store.record(&id(1, h)).unwrap().unwrap();
        assert_eq!(record.block_height, h);
        let expected: Vec<_> = previous_heights(h)
            .into_iter()
            .map(|p| {
                if p == 0 {
                    ZERO_BLOCK_ID.to_vec()
                } else {
                    id(1, p)
                }
            })
            .collect();
        assert_eq!(record.previous_block_ids, expected, "height {h}");
        assert_eq!(record.receipt, Some(receipt(1, h)));
    }
}

#[test]
fn ancestors_are_found_at_every_height() {
    let (_dir, store) = new_store();
    add_chain(&store, 1, 1, 200, ZERO_BLOCK_ID.to_vec());
    for head in [1u64, 2, 7, 64, 129, 200] {
        for h in 1..=head {
            assert_eq!(
                store.ancestor_id_at_height(&id(1, head), h).unwrap(),
                id(1, h)
            );
        }
        assert!(matches!(
            store.ancestor_id_at_height(&id(1, head), head + 1),
            Err(BlockStoreError::BlockHeightMismatch)
        ));
    }
}

#[test]
fn get_blocks_by_height_returns_ascending_ancestors_and_truncates_at_the_head() {
    let (_dir, store) = new_store();
    add_chain(&store, 1, 1, 50, ZERO_BLOCK_ID.to_vec());
    let items = store
        .get_blocks_by_height(&id(1, 50), 10, 5, true, true)
        .unwrap();
    assert_eq!(heights(&items), vec![10, 11, 12, 13, 14]);
    for item in &items {
        assert_eq!(item.block_id, id(1, item.block_height));
        assert_eq!(item.block.as_ref().unwrap().id, item.block_id);
        assert_eq!(item.receipt, Some(receipt(1, item.block_height)));
    }
    let truncated = store
        .get_blocks_by_height(&id(1, 50), 45, 1000, false, false)
        .unwrap();
    assert_eq!(heights(&truncated), vec![45, 46, 47, 48, 49, 50]);
    assert!(
        truncated
            .iter()
            .all(|i| i.block.is_none() && i.receipt.is_none())
    );
    let from_mid_head = store
        .get_blocks_by_height(&id(1, 20), 1, 1000, false, true)
        .unwrap();
    assert_eq!(heights(&from_mid_head), (1..=20).collect::<Vec<_>>());
    assert!(
        from_mid_head
            .iter()
            .all(|i| i.block.is_none() && i.receipt.is_some())
    );
}

#[test]
fn get_blocks_by_height_enforces_the_documented_limits_and_errors() {
    let (_dir, store) = new_store();
    add_chain(&store, 1, 1, 10, ZERO_BLOCK_ID.to_vec());
    let head = id(1, 10);
    assert!(
        store
            .get_blocks_by_height(&head, 0, 0, true, true)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .get_blocks_by_height(&head, 5, 0, true, true)
            .unwrap()
            .is_empty()
    );
    let err = store
        .get_blocks_by_height(&head, 0, 5, true, true)
        .unwrap_err();
    assert!(matches!(err, BlockStoreError::ZeroStartHeight));
    assert_eq!(
        err.to_string(),
        "ancestor_start_height must be greater than 0"
    );
    let err = store
        .get_blocks_by_height(&head, 11, 1, true, true)
        .unwrap_err();
    assert_eq!(err.to_string(), "Block height mismatch");
    assert!(matches!(
        store.get_blocks_by_height(&head, 1, 1001, true, true),
        Err(BlockStoreError::TooManyBlocks { requested: 1001 })
    ));
    assert_eq!(
        store
            .get_blocks_by_height(&head, 1, 1000, true, true)
            .unwrap()
            .len(),
        10
    );
    let err = store
        .get_blocks_by_height(&id(9, 3), 1, 1, true, true)
        .unwrap_err();
    assert!(matches!(&err, BlockStoreError::BlockNotPresent(missing) if *missing == id(9, 3)));
    // The official message names the missing block in hex.
    assert_eq!(
        err.to_string(),
        format!("Block not present - ID: 0x{}", hex::encode(id(9, 3)))
    );
    assert!(matches!(
        store.get_blocks_by_height(&[], 1, 1, true, true),
        Err(BlockStoreError::MissingHeadBlockId)
    ));
}

#[test]
fn each_fork_head_sees_its_own_ancestors() {
    let (_dir, store) = new_store();
    add_chain(&store, 1, 1, 60, ZERO_BLOCK_ID.to_vec());
    add_chain(&store, 2, 41, 70, id(1, 40));
    let main = store
        .get_blocks_by_height(&id(1, 60), 35, 30, false, false)
        .unwrap();
    let fork = store
        .get_blocks_by_height(&id(2, 70), 35, 30, false, false)
        .unwrap();
    assert_eq!(heights(&main), (35..=60).collect::<Vec<_>>());
    assert_eq!(heights(&fork), (35..=64).collect::<Vec<_>>());
    for item in &fork {
        let expected_fork = if item.block_height <= 40 { 1 } else { 2 };
        assert_eq!(item.block_id, id(expected_fork, item.block_height));
    }
    // The higher fork is now the highest block.
    let highest = store.highest_block().unwrap();
    assert_eq!(
        (highest.id, highest.height, highest.previous),
        (id(2, 70), 70, id(2, 69))
    );
}

#[test]
fn the_highest_block_only_moves_up() {
    let (_dir, store) = new_store();
    add_chain(&store, 1, 1, 5, ZERO_BLOCK_ID.to_vec());
    add_chain(&store, 2, 3, 5, id(1, 2)); // same height as the head: not higher
    assert_eq!(store.highest_block().unwrap().id, id(1, 5));
    add_chain(&store, 2, 6, 6, id(2, 5));
    assert_eq!(store.highest_block().unwrap().id, id(2, 6));
}

#[test]
fn get_blocks_by_id_fills_unknown_slots_with_empty_items() {
    let (_dir, store) = new_store();
    add_chain(&store, 1, 1, 5, ZERO_BLOCK_ID.to_vec());
    let ids = vec![id(1, 3), id(7, 7), id(1, 1)];
    let items = store.get_blocks_by_id(&ids, true, false).unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        (items[0].block_id.clone(), items[0].block_height),
        (id(1, 3), 3)
    );
    assert!(items[0].block.is_some() && items[0].receipt.is_none());
    assert_eq!(items[1], BlockItem::default());
    assert_eq!(items[2].block_height, 1);
    let items = store.get_blocks_by_id(&ids[..1], false, true).unwrap();
    assert!(items[0].block.is_none() && items[0].receipt.is_some());
    // An empty list is an error, as in the official service.
    let err = store.get_blocks_by_id(&[], true, true).unwrap_err();
    assert!(matches!(err, BlockStoreError::MissingBlockIds));
    assert_eq!(err.to_string(), "expected field 'block_id' was nil");
    let too_many = vec![id(1, 1); 1001];
    assert!(matches!(
        store.get_blocks_by_id(&too_many, false, false),
        Err(BlockStoreError::TooManyBlocks { requested: 1001 })
    ));
    assert_eq!(
        store
            .get_blocks_by_id(&too_many[..1000], false, false)
            .unwrap()
            .len(),
        1000
    );
}

#[test]
fn re_adding_a_block_fills_a_missing_receipt_but_never_drops_one() {
    let (_dir, store) = new_store();
    store
        .add_block(block(1, 1, ZERO_BLOCK_ID.to_vec()), None)
        .unwrap();
    assert_eq!(store.record(&id(1, 1)).unwrap().unwrap().receipt, None);
    store
        .add_block(block(1, 1, ZERO_BLOCK_ID.to_vec()), Some(receipt(1, 1)))
        .unwrap();
    store
        .add_block(block(1, 1, ZERO_BLOCK_ID.to_vec()), None)
        .unwrap();
    assert_eq!(
        store.record(&id(1, 1)).unwrap().unwrap().receipt,
        Some(receipt(1, 1))
    );
}

#[test]
fn add_block_rejects_incomplete_blocks_and_unknown_ancestors() {
    let (_dir, store) = new_store();
    let mut no_id = block(1, 1, ZERO_BLOCK_ID.to_vec());
    no_id.id.clear();
    assert!(matches!(
        store.add_block(no_id, None),
        Err(BlockStoreError::MissingBlockId)
    ));
    let mut no_header = block(1, 1, ZERO_BLOCK_ID.to_vec());
    no_header.header = None;
    assert!(matches!(
        store.add_block(no_header, None),
        Err(BlockStoreError::MissingHeader)
    ));
    // Height 4 links to heights 3, 2 and 0: the ancestors must be known.
    assert!(matches!(
        store.add_block(block(1, 4, id(1, 3)), None),
        Err(BlockStoreError::BlockNotPresent(_))
    ));
    assert!(store.record(&id(1, 4)).unwrap().is_none());
    assert_eq!(store.highest_block().unwrap().height, 0);
}

#[test]
fn blocks_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = BlockStore::open(dir.path(), false).unwrap();
        add_chain(&store, 1, 1, 20, ZERO_BLOCK_ID.to_vec());
    }
    let store = BlockStore::open(dir.path(), false).unwrap();
    assert_eq!(store.highest_block().unwrap().height, 20);
    assert_eq!(
        heights(
            &store
                .get_blocks_by_height(&id(1, 20), 1, 100, true, true)
                .unwrap()
        ),
        (1..=20).collect::<Vec<_>>()
    );
    let reset = {
        drop(store);
        BlockStore::open(dir.path(), true).unwrap()
    };
    assert_eq!(reset.highest_block().unwrap().height, 0);
}

#[test]
fn a_batch_of_blocks_is_stored_atomically_and_may_build_on_itself() {
    let (_dir, store) = new_store();
    let mut previous = ZERO_BLOCK_ID.to_vec();
    let mut batch = Vec::new();
    for h in 1..=100 {
        batch.push((block(1, h, previous), Some(receipt(1, h))));
        previous = id(1, h);
    }
    let mut broken = batch[50..].to_vec();
    broken.push((block(1, 400, id(1, 399)), None)); // its ancestors are unknown
    store.add_blocks(batch[..50].to_vec()).unwrap();
    assert!(matches!(
        store.add_blocks(broken),
        Err(BlockStoreError::BlockNotPresent(_))
    ));
    assert_eq!(store.highest_block().unwrap().height, 50);
    assert!(store.record(&id(1, 51)).unwrap().is_none());
    store.add_blocks(batch[50..].to_vec()).unwrap();
    assert_eq!(store.highest_block().unwrap().height, 100);
    assert_eq!(
        heights(
            &store
                .get_blocks_by_height(&id(1, 100), 1, 100, false, false)
                .unwrap()
        ),
        (1..=100).collect::<Vec<_>>()
    );
}
