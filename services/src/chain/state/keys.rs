//! State keys and the state merkle root.
//!
//! A state key is the serialized `koinos.chain.database_key{space, key}` (docs/protocol.md
//! "Data formats"), so the committed table's byte order is the order the state merkle root
//! uses.

use prost::Message;

use super::session::Delta;

use koinos_protocol::chain::DatabaseKey;
pub use koinos_protocol::chain::ObjectSpace;
use koinos_protocol::crypto::sha256;
use koinos_protocol::merkle::merkle_root;

/// A contract's own object space `id` (zone = the contract id).
pub fn contract_space(contract_id: &[u8], id: u32) -> ObjectSpace {
    ObjectSpace {
        system: false,
        zone: contract_id.to_vec(),
        id,
    }
}

/// The state key for `key` in `space`.
pub fn state_key(space: &ObjectSpace, key: &[u8]) -> Vec<u8> {
    DatabaseKey {
        space: Some(space.clone()),
        key: key.to_vec(),
    }
    .encode_to_vec()
}

/// Splits a state key back into its space and key.
pub fn split_state_key(state_key: &[u8]) -> Option<(ObjectSpace, Vec<u8>)> {
    let decoded = DatabaseKey::decode(state_key).ok()?;
    Some((decoded.space.unwrap_or_default(), decoded.key))
}

/// The first state key of `space` and the first key after it (a half-open range).
pub fn space_range(space: &ObjectSpace) -> (Vec<u8>, Vec<u8>) {
    // Keys of one space share the prefix `0a len(space) space`; the key field follows.
    let start = state_key(space, &[]);
    let end = prefix_end(&start);
    (start, end)
}

/// The smallest byte string greater than every string starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xff; prefix.len() + 1]
}

/// The state merkle root of one block's delta (docs/protocol.md "Data formats"): per key in
/// byte order, sha256(key) then sha256(value, or "" when removed); returned as a sha2-256
/// multihash.
pub fn state_merkle_root(delta: &Delta) -> Vec<u8> {
    let mut leaves = Vec::with_capacity(delta.len() * 2);
    for (key, value) in delta {
        leaves.push(sha256(key));
        leaves.push(sha256(value.as_deref().unwrap_or_default()));
    }
    merkle_root(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn empty_state_root_is_sha256_of_nothing() {
        let root = state_merkle_root(&Delta::new());
        let b64 = base64::engine::general_purpose::STANDARD.encode(&root);
        assert_eq!(b64, "EiDjsMRCmPwcFJr79MiZb7kkJ65B5GSbk0yklZkbeFK4VQ==");
    }

    #[test]
    fn state_keys_round_trip_and_group_by_space() {
        let space = contract_space(b"token", 1);
        let key = state_key(&space, b"alice");
        assert_eq!(
            split_state_key(&key),
            Some((space.clone(), b"alice".to_vec()))
        );
        let (start, end) = space_range(&space);
        assert!(start.as_slice() <= key.as_slice() && key.as_slice() < end.as_slice());
        let other = state_key(&contract_space(b"token", 2), b"alice");
        assert!(!(start.as_slice() <= other.as_slice() && other.as_slice() < end.as_slice()));
        // An all-default space is still written (present submessage): `0a 00`.
        assert_eq!(state_key(&ObjectSpace::default(), b""), vec![0x0a, 0x00]);
    }
}
