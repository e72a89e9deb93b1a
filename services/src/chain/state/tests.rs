use super::*;

fn space() -> ObjectSpace {
    contract_space(b"test", 1)
}

fn key(n: u64) -> Vec<u8> {
    state_key(&space(), &n.to_be_bytes())
}

fn id(height: u64, fork: u8) -> Vec<u8> {
    let mut id = vec![0x12, 0x20, fork];
    id.extend_from_slice(&height.to_be_bytes());
    id
}

fn open(dir: &Path) -> StateDb {
    StateDb::open(&dir.join("state.redb"), || {
        let mut delta = Delta::new();
        delta.insert(key(0), Some(b"genesis".to_vec()));
        let info = BlockInfo {
            id: vec![0; 34],
            ..Default::default()
        };
        Ok((info, delta))
    })
    .unwrap()
}

/// Adds block (height, fork) on `parent`, writing key(height) = fork.
fn add(db: &mut StateDb, height: u64, fork: u8, parent: &[u8], ts: u64) -> NodeUpdate {
    let mut session = db.session(parent).unwrap();
    session.put(key(height), vec![fork]);
    let delta = session.into_delta();
    let info = BlockInfo {
        id: id(height, fork),
        previous: parent.to_vec(),
        height,
        timestamp: ts,
        signer: vec![fork],
        state_merkle_root: state_merkle_root(&delta),
    };
    db.add_node(info, delta, ForkAlgorithm::Fifo).unwrap()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn reads_fall_through_frames_nodes_and_committed_state() {
    let dir = tempdir();
    let mut db = open(dir.path());
    let root = db.root().id.clone();
    add(&mut db, 1, 1, &root, 10);
    let mut session = db.session(&id(1, 1)).unwrap();
    assert_eq!(session.get(&key(0)).unwrap(), Some(b"genesis".to_vec()));
    assert_eq!(session.get(&key(1)).unwrap(), Some(vec![1]));
    session.push_frame();
    session.remove(key(0)).unwrap();
    assert_eq!(session.get(&key(0)).unwrap(), None);
    session.discard_frame();
    assert_eq!(session.get(&key(0)).unwrap(), Some(b"genesis".to_vec()));
    session.push_frame();
    session.put(key(5), vec![5]);
    let tx_delta = session.commit_frame();
    assert_eq!(tx_delta.len(), 1);
    let all: Vec<_> = {
        let (start, end) = space_range(&space());
        session.range(&start, &end).unwrap()
    };
    assert_eq!(all.len(), 3, "genesis key, block 1 key, key 5");
    // Removing an absent key records nothing.
    session.remove(key(99)).unwrap();
    assert_eq!(session.into_delta().len(), 1);
}

#[test]
fn lib_advances_sixty_behind_head_and_commits_state() {
    let dir = tempdir();
    let mut db = open(dir.path());
    let mut parent = db.root().id.clone();
    for height in 1..=60 {
        let update = add(&mut db, height, 1, &parent, height);
        assert!(update.is_head);
        assert_eq!(update.new_lib, None);
        parent = id(height, 1);
    }
    assert_eq!(db.root().height, 0);
    let update = add(&mut db, 61, 1, &parent, 61);
    assert_eq!(update.new_lib.map(|i| i.height), Some(1));
    assert_eq!(db.root().id, id(1, 1));
    assert_eq!(db.nodes.len(), 60);
    // Block 1's write is now in the committed table.
    let committed = db
        .committed
        .get(key(1).as_slice())
        .unwrap()
        .map(|v| v.value().to_vec());
    assert_eq!(committed, Some(vec![1]));
}

#[test]
fn forks_not_descending_from_the_lib_are_pruned() {
    let dir = tempdir();
    let mut db = open(dir.path());
    let root = db.root().id.clone();
    add(&mut db, 1, 1, &root, 1);
    // A competing fork at heights 1..=2 (fork 2), never the head under fifo.
    add(&mut db, 1, 2, &root, 1);
    add(&mut db, 2, 2, &id(1, 2), 2);
    // A fork off block 1 of the main chain, which survives (it descends from the LIB at 1).
    add(&mut db, 2, 3, &id(1, 1), 2);
    let mut parent = id(1, 1);
    for height in 2..=61 {
        add(&mut db, height, 1, &parent, height);
        parent = id(height, 1);
    }
    assert_eq!(db.root().id, id(1, 1));
    assert!(!db.contains(&id(1, 2)) && !db.contains(&id(2, 2)));
    assert!(db.contains(&id(2, 3)));
    let heads: HashSet<Vec<u8>> = db.fork_heads().iter().map(|i| i.id.clone()).collect();
    assert_eq!(heads, HashSet::from([id(61, 1), id(2, 3)]));
    // One more block makes 2 irreversible and prunes fork 3 too.
    add(&mut db, 62, 1, &parent, 62);
    assert!(!db.contains(&id(2, 3)));
    assert_eq!(db.fork_heads().len(), 1);
}

#[test]
fn reopening_restores_root_head_and_unfinalized_blocks() {
    let dir = tempdir();
    let mut parent;
    {
        let mut db = open(dir.path());
        parent = db.root().id.clone();
        for height in 1..=65 {
            add(&mut db, height, 1, &parent, height);
            parent = id(height, 1);
        }
        add(&mut db, 65, 9, &id(64, 1), 70);
    }
    let db = open(dir.path());
    assert_eq!(db.head().id, parent);
    assert_eq!(db.root().height, 5);
    assert!(db.contains(&id(65, 9)));
    let session = db.session(&parent).unwrap();
    assert_eq!(session.get(&key(3)).unwrap(), Some(vec![1]));
    assert_eq!(session.get(&key(65)).unwrap(), Some(vec![1]));
    assert_eq!(session.get(&key(0)).unwrap(), Some(b"genesis".to_vec()));
}
