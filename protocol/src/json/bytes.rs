//! Rendering of `bytes` fields by their `(koinos.btype)` option.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use prost_reflect::{FieldDescriptor, Kind, Value as PValue};

use crate::pb::{BTYPE_EXTENSION, descriptor_pool};

/// The `koinos.bytes_type` values, i.e. how a bytes field appears in Koinos JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesType {
    /// URL-safe base64 with `=` padding (the default, also for fields without the option).
    Base64,
    /// Base58 (Bitcoin alphabet).
    Base58,
    /// `0x` + lowercase hex.
    Hex,
    BlockId,
    TransactionId,
    ContractId,
    Address,
}

impl BytesType {
    /// The rendering for a `koinos.bytes_type` number; unknown numbers fall back to base64.
    pub fn from_number(number: i32) -> Self {
        match number {
            1 => Self::Base58,
            2 => Self::Hex,
            3 => Self::BlockId,
            4 => Self::TransactionId,
            5 => Self::ContractId,
            6 => Self::Address,
            _ => Self::Base64,
        }
    }

    /// The rendering declared on `field`, looked up in the field's own pool so that run-time
    /// loaded descriptors work too. Fields of the built-in pool use a table built once, since
    /// decoding field options on every value dominates the cost of a translation.
    pub fn of_field(field: &FieldDescriptor) -> Self {
        if field.parent_pool() == descriptor_pool() {
            return builtin_btypes()
                .get(field.full_name())
                .copied()
                .unwrap_or(Self::Base64);
        }
        Self::from_options(field)
    }

    pub(crate) fn from_options(field: &FieldDescriptor) -> Self {
        let Some(ext) = field.parent_pool().get_extension_by_name(BTYPE_EXTENSION) else {
            return Self::Base64;
        };
        let options = field.options();
        if !options.has_extension(&ext) {
            return Self::Base64;
        }
        match options.get_extension(&ext).as_ref() {
            PValue::EnumNumber(n) => Self::from_number(*n),
            _ => Self::Base64,
        }
    }

    /// Renders `bytes` as a JSON string.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Self::Base64 => URL_SAFE.encode(bytes),
            Self::Base58 | Self::ContractId | Self::Address => bs58::encode(bytes).into_string(),
            Self::Hex | Self::BlockId | Self::TransactionId => format!("0x{}", hex::encode(bytes)),
        }
    }

    /// Parses a JSON string rendered by [`BytesType::encode`]; strict like the Go decoder
    /// (padding required and `+`/`/` rejected for base64, `0x` required for hex).
    pub fn decode(self, text: &str) -> Result<Vec<u8>, String> {
        match self {
            Self::Base64 => URL_SAFE
                .decode(text)
                .map_err(|e| format!("invalid URL-safe base64: {e}")),
            Self::Base58 | Self::ContractId | Self::Address => bs58::decode(text)
                .into_vec()
                .map_err(|e| format!("invalid base58: {e}")),
            Self::Hex | Self::BlockId | Self::TransactionId => {
                let digits = text
                    .strip_prefix("0x")
                    .ok_or_else(|| "hex bytes must start with 0x".to_owned())?;
                hex::decode(digits).map_err(|e| format!("invalid hex: {e}"))
            }
        }
    }
}

/// btype of every annotated bytes field of the built-in pool, by field full name.
fn builtin_btypes() -> &'static HashMap<String, BytesType> {
    static TABLE: OnceLock<HashMap<String, BytesType>> = OnceLock::new();
    TABLE.get_or_init(|| {
        descriptor_pool()
            .all_messages()
            .flat_map(|message| message.fields().collect::<Vec<_>>())
            .filter(|field| matches!(field.kind(), Kind::Bytes))
            .map(|field| {
                (
                    field.full_name().to_owned(),
                    BytesType::from_options(&field),
                )
            })
            .filter(|(_, btype)| *btype != BytesType::Base64)
            .collect()
    })
}
