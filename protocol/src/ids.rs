//! Transaction and block ids (docs/protocol.md "Data formats"): the sha2-256 multihash of the
//! canonical protobuf encoding of the header.

use prost::Message;

use crate::crypto::sha256_multihash;
use crate::pb::koinos::protocol::{BlockHeader, TransactionHeader};

/// The block id that precedes block 1: `0x1220` followed by 32 zero bytes.
pub fn zero_block_id() -> Vec<u8> {
    let mut id = vec![0x12, 0x20];
    id.extend([0u8; 32]);
    id
}

/// `multihash(sha256(serialized header))`.
pub fn transaction_id(header: &TransactionHeader) -> Vec<u8> {
    sha256_multihash(&header.encode_to_vec())
}

/// `multihash(sha256(serialized header))`.
pub fn block_id(header: &BlockHeader) -> Vec<u8> {
    sha256_multihash(&header.encode_to_vec())
}
