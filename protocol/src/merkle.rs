//! Merkle roots (docs/protocol.md "Data formats"): leaves are 32-byte sha256 digests, a parent is
//! sha256(left ‖ right), an odd last node is promoted unchanged, and the root is stored as a
//! sha2-256 multihash. The empty tree's root is sha256("").

use prost::Message;

use crate::crypto::{Multihash, sha256};
use crate::pb::koinos::chain::{DatabaseKey, ObjectSpace};
use crate::pb::koinos::protocol::{Operation, StateDeltaEntry, Transaction};

/// The 32-byte root of `leaves`.
pub fn merkle_root_digest(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.is_empty() {
        return sha256(b"");
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut both = [0u8; 64];
                    both[..32].copy_from_slice(left);
                    both[32..].copy_from_slice(right);
                    sha256(&both)
                }
                [odd] => *odd,
                _ => unreachable!("chunks(2) yields one or two nodes"),
            })
            .collect();
    }
    level[0]
}

/// The root of `leaves` as a sha2-256 multihash.
pub fn merkle_root(leaves: &[[u8; 32]]) -> Vec<u8> {
    Multihash::sha256_digest(merkle_root_digest(leaves)).to_bytes()
}

/// The root of an empty tree as a multihash (`EiDjsMRC…` in base64url).
pub fn empty_merkle_root() -> Vec<u8> {
    merkle_root(&[])
}

/// `transaction_header.operation_merkle_root`: one leaf sha256(serialized operation) each.
pub fn operation_merkle_root(operations: &[Operation]) -> Vec<u8> {
    let leaves: Vec<[u8; 32]> = operations
        .iter()
        .map(|op| sha256(&op.encode_to_vec()))
        .collect();
    merkle_root(&leaves)
}

/// `block_header.transaction_merkle_root`: two leaves per transaction, in block order:
/// sha256(serialized header), then sha256(concatenation of its signatures).
pub fn transaction_merkle_root(transactions: &[Transaction]) -> Vec<u8> {
    let mut leaves = Vec::with_capacity(transactions.len() * 2);
    for transaction in transactions {
        let header = transaction
            .header
            .as_ref()
            .map(Message::encode_to_vec)
            .unwrap_or_default();
        leaves.push(sha256(&header));
        leaves.push(sha256(&transaction.signatures.concat()));
    }
    merkle_root(&leaves)
}

/// A state merkle root over one block's delta: keys are serialized
/// `koinos.chain.database_key{space, key}` sorted bytewise, each adding the leaves sha256(key)
/// and sha256(value, or "" when the key was deleted).
pub fn state_delta_merkle_root(entries: &[StateDeltaEntry]) -> Vec<u8> {
    let mut keyed: Vec<(Vec<u8>, &[u8])> = entries
        .iter()
        .map(|entry| {
            let space = entry.object_space.as_ref().map(|s| ObjectSpace {
                system: s.system,
                zone: s.zone.clone(),
                id: s.id,
            });
            let key = DatabaseKey {
                space: Some(space.unwrap_or_default()),
                key: entry.key.clone(),
            };
            (
                key.encode_to_vec(),
                entry.value.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut leaves = Vec::with_capacity(keyed.len() * 2);
    for (key, value) in keyed {
        leaves.push(sha256(&key));
        leaves.push(sha256(value));
    }
    merkle_root(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE;

    fn leaf(n: u8) -> [u8; 32] {
        sha256(&[n])
    }

    fn parent(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
        sha256(&[a, b].concat())
    }

    #[test]
    fn empty_tree_is_sha256_of_nothing() {
        assert_eq!(
            URL_SAFE.encode(empty_merkle_root()),
            "EiDjsMRCmPwcFJr79MiZb7kkJ65B5GSbk0yklZkbeFK4VQ=="
        );
    }

    #[test]
    fn single_leaf_is_the_root() {
        assert_eq!(merkle_root_digest(&[leaf(1)]), leaf(1));
    }

    #[test]
    fn odd_last_node_is_promoted_not_duplicated() {
        let (a, b, c) = (leaf(1), leaf(2), leaf(3));
        assert_eq!(merkle_root_digest(&[a, b, c]), parent(parent(a, b), c));
        let (d, e) = (leaf(4), leaf(5));
        let expected = parent(parent(parent(a, b), parent(c, d)), e);
        assert_eq!(merkle_root_digest(&[a, b, c, d, e]), expected);
    }

    #[test]
    fn state_root_sorts_keys_and_hashes_deleted_values_as_empty() {
        let entry = |key: u8, value: Option<Vec<u8>>| StateDeltaEntry {
            object_space: Some(Default::default()),
            key: vec![key],
            value,
        };
        let forward = [entry(2, None), entry(1, Some(vec![9]))];
        let backward = [entry(1, Some(vec![9])), entry(2, None)];
        assert_eq!(
            state_delta_merkle_root(&forward),
            state_delta_merkle_root(&backward)
        );
        let db_key = |k: u8| {
            DatabaseKey {
                space: Some(ObjectSpace::default()),
                key: vec![k],
            }
            .encode_to_vec()
        };
        let expected = merkle_root(&[
            sha256(&db_key(1)),
            sha256(&[9]),
            sha256(&db_key(2)),
            sha256(b""),
        ]);
        assert_eq!(state_delta_merkle_root(&forward), expected);
    }
}
