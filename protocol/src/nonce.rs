//! Transaction nonces (docs/protocol.md "Nonces"): `header.nonce` is a serialized
//! `koinos.chain.value_type{uint64_value}`, e.g. 1 -> `KAE=` (`0x28 0x01`).

use prost::Message;

use crate::pb::koinos::chain::ValueType;
use crate::pb::koinos::chain::value_type::Kind;

/// Why nonce bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    #[error("nonce is not a valid value_type: {0}")]
    Decode(String),
    #[error("nonce value_type does not hold a uint64_value")]
    NotUint64,
}

/// Serialized `value_type{uint64_value: nonce}`; the oneof member is written even for 0.
pub fn encode_nonce(nonce: u64) -> Vec<u8> {
    ValueType {
        kind: Some(Kind::Uint64Value(nonce)),
    }
    .encode_to_vec()
}

/// The nonce held in serialized `value_type` bytes. Empty bytes read as 0, as a missing
/// chain entry does.
pub fn decode_nonce(bytes: &[u8]) -> Result<u64, NonceError> {
    if bytes.is_empty() {
        return Ok(0);
    }
    let value = ValueType::decode(bytes).map_err(|e| NonceError::Decode(e.to_string()))?;
    match value.kind {
        Some(Kind::Uint64Value(n)) => Ok(n),
        _ => Err(NonceError::NotUint64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE;

    #[test]
    fn nonce_encoding_matches_reference() {
        assert_eq!(URL_SAFE.encode(encode_nonce(1)), "KAE=");
        assert_eq!(URL_SAFE.encode(encode_nonce(0)), "KAA=");
        assert_eq!(encode_nonce(300), [0x28, 0xac, 0x02]);
    }

    #[test]
    fn nonce_round_trips_and_rejects_other_kinds() {
        for n in [0, 1, 127, 128, u64::MAX] {
            assert_eq!(decode_nonce(&encode_nonce(n)), Ok(n));
        }
        assert_eq!(decode_nonce(&[]), Ok(0));
        let string = ValueType {
            kind: Some(Kind::StringValue("1".into())),
        };
        assert_eq!(
            decode_nonce(&string.encode_to_vec()),
            Err(NonceError::NotUint64)
        );
        assert!(matches!(decode_nonce(&[0x28]), Err(NonceError::Decode(_))));
    }
}
