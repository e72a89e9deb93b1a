//! The `get_blocks_by_height` answer encoded straight from the stored bytes.
//!
//! A `block_record` and a `block_item` share fields 1–4, and records are written by prost in
//! canonical form, so an item's encoding is the record's bytes minus field 5 (and minus the
//! block or receipt the request does not want). Splicing those bytes skips decoding and
//! re-encoding every block and receipt; the result is byte-identical to encoding the decoded
//! items (checked by the tests below).

use prost::encoding::{WireType, decode_varint, encode_key, encode_varint, encoded_len_varint};

use super::store::WalkStep;
use super::{BlockStore, Result};

/// `block_store_response.get_blocks_by_height` (field 4) and its `block_items` (field 1).
const RESPONSE_FIELD: u32 = 4;
const ITEMS_FIELD: u32 = 1;

/// One top-level field of an encoded message: number and byte range.
struct Field {
    number: u32,
    range: std::ops::Range<usize>,
    /// For length-delimited fields, where the payload starts.
    payload: usize,
}

fn fields(bytes: &[u8]) -> std::result::Result<Vec<Field>, String> {
    let mut out = Vec::with_capacity(8);
    let mut buf = bytes;
    while !buf.is_empty() {
        let start = bytes.len() - buf.len();
        let key = decode_varint(&mut buf).map_err(|e| e.to_string())?;
        let number = (key >> 3) as u32;
        match key & 7 {
            0 => {
                decode_varint(&mut buf).map_err(|e| e.to_string())?;
            }
            1 if buf.len() >= 8 => buf = &buf[8..],
            5 if buf.len() >= 4 => buf = &buf[4..],
            2 => {
                let len = decode_varint(&mut buf).map_err(|e| e.to_string())? as usize;
                if len > buf.len() {
                    return Err("field length past the end of the record".to_owned());
                }
                buf = &buf[len..];
            }
            wire => return Err(format!("unexpected wire type {wire}")),
        }
        let end = bytes.len() - buf.len();
        let payload = if key & 7 == 2 {
            end - field_len(bytes, start, end)
        } else {
            end
        };
        out.push(Field {
            number,
            range: start..end,
            payload,
        });
    }
    Ok(out)
}

/// Payload length of the length-delimited field spanning `start..end`.
fn field_len(bytes: &[u8], start: usize, end: usize) -> usize {
    let mut buf = &bytes[start..end];
    let _ = decode_varint(&mut buf);
    decode_varint(&mut buf).map_or(0, |len| len as usize)
}

/// The encoded `block_item` of a record, its height and its parent id.
pub(super) fn splice_item(
    bytes: &[u8],
    return_block: bool,
    return_receipt: bool,
) -> WalkStep<Vec<u8>> {
    let mut item = Vec::with_capacity(bytes.len());
    let (mut height, mut previous) = (0, None);
    for field in fields(bytes)? {
        match field.number {
            2 => {
                let mut value = &bytes[field.range.clone()][1..];
                height = decode_varint(&mut value).map_err(|e| e.to_string())?;
            }
            5 => {
                if previous.is_none() {
                    previous = Some(bytes[field.payload..field.range.end].to_vec());
                }
                continue;
            }
            3 if !return_block => continue,
            4 if !return_receipt => continue,
            _ => {}
        }
        item.extend_from_slice(&bytes[field.range]);
    }
    Ok((height, previous, item))
}

impl BlockStore {
    /// The encoded `block_store_response` of a `get_blocks_by_height` request: what
    /// [`BlockStore::get_blocks_by_height`] returns, wrapped and encoded, built from the
    /// stored bytes without decoding blocks or receipts.
    pub fn get_blocks_by_height_response(
        &self,
        head_block_id: &[u8],
        start_height: u64,
        num_blocks: u32,
        return_block: bool,
        return_receipt: bool,
    ) -> Result<Vec<u8>> {
        let items = self.walk_by_height(head_block_id, start_height, num_blocks, |bytes| {
            splice_item(bytes, return_block, return_receipt)
        })?;
        let inner: usize = items
            .iter()
            .map(|i| 1 + encoded_len_varint(i.len() as u64) + i.len())
            .sum();
        let mut out = Vec::with_capacity(1 + encoded_len_varint(inner as u64) + inner);
        encode_key(RESPONSE_FIELD, WireType::LengthDelimited, &mut out);
        encode_varint(inner as u64, &mut out);
        for item in items {
            encode_key(ITEMS_FIELD, WireType::LengthDelimited, &mut out);
            encode_varint(item.len() as u64, &mut out);
            out.extend_from_slice(&item);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use koinos_protocol::rpc::block_store::{
        BlockStoreResponse, GetBlocksByHeightResponse, block_store_response::Response,
    };
    use koinos_protocol::{Block, BlockHeader, BlockReceipt};
    use prost::Message;

    use super::super::ZERO_BLOCK_ID;
    use super::*;

    fn id(h: u64) -> Vec<u8> {
        let mut id = vec![0x12, 0x20];
        id.extend_from_slice(&h.to_be_bytes());
        id.resize(34, 0xcd);
        id
    }

    #[test]
    fn spliced_answers_are_byte_identical_to_encoded_items() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlockStore::open(dir.path(), false).unwrap();
        let mut previous = ZERO_BLOCK_ID.to_vec();
        for h in 1..=70u64 {
            let block = Block {
                id: id(h),
                header: Some(BlockHeader {
                    previous: previous.clone(),
                    height: h,
                    timestamp: h * 1000,
                    ..Default::default()
                }),
                signature: vec![7; 65],
                ..Default::default()
            };
            // Some blocks without receipt, one with an empty one.
            let receipt = match h % 3 {
                0 => None,
                1 => Some(BlockReceipt::default()),
                _ => Some(BlockReceipt {
                    id: id(h),
                    height: h,
                    logs: vec![format!("log {h}")],
                    ..Default::default()
                }),
            };
            store.add_block(block, receipt).unwrap();
            previous = id(h);
        }
        for (start, num) in [(1, 70), (5, 1), (33, 1000), (70, 3)] {
            for (rb, rr) in [(true, true), (true, false), (false, true), (false, false)] {
                let items = store
                    .get_blocks_by_height(&id(70), start, num, rb, rr)
                    .unwrap();
                let expected = BlockStoreResponse {
                    response: Some(Response::GetBlocksByHeight(GetBlocksByHeightResponse {
                        block_items: items,
                    })),
                }
                .encode_to_vec();
                let spliced = store
                    .get_blocks_by_height_response(&id(70), start, num, rb, rr)
                    .unwrap();
                assert_eq!(
                    spliced, expected,
                    "start {start} num {num} block {rb} receipt {rr}"
                );
            }
        }
        // Errors are the same as the decoding path's.
        assert!(
            store
                .get_blocks_by_height_response(&id(70), 0, 1, true, true)
                .is_err()
        );
        assert!(
            store
                .get_blocks_by_height_response(&id(7), 8, 1, true, true)
                .is_err()
        );
    }
}
