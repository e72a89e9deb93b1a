//! Genesis data (`basedir/chain/genesis_data.json`, standard protobuf JSON), the chain id and
//! the metadata objects the chain reads (§3.5).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use koinos_protocol::chain::{GenesisData, GenesisEntry, ObjectSpace};
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{ChainError, ChainResult, code};
use super::state::{Delta, sha256_multihash, state_key};

/// System space ids (`koinos.chain.system_space_id`).
pub mod space {
    pub const METADATA: u32 = 0;
    pub const SYSTEM_CALL_DISPATCH: u32 = 1;
    pub const CONTRACT_BYTECODE: u32 = 2;
    pub const CONTRACT_METADATA: u32 = 3;
    pub const TRANSACTION_NONCE: u32 = 4;
}

/// A system object space (zone empty).
pub fn system_space(id: u32) -> ObjectSpace {
    ObjectSpace {
        system: true,
        zone: Vec::new(),
        id,
    }
}

/// The metadata key of object `name`: `multihash(sha256("object_key::<name>"))`.
pub fn metadata_key(name: &str) -> Vec<u8> {
    sha256_multihash(&Sha256::digest(format!("object_key::{name}")))
}

/// State key of metadata object `name`.
pub fn metadata_state_key(name: &str) -> Vec<u8> {
    state_key(&system_space(space::METADATA), &metadata_key(name))
}

/// chain_id = multihash(sha256(serialized genesis_data)), entries in file order.
pub fn chain_id(genesis: &GenesisData) -> Vec<u8> {
    sha256_multihash(&Sha256::digest(genesis.encode_to_vec()))
}

/// The root state: every genesis entry, then the chain id under metadata `chain_id`.
pub fn genesis_delta(genesis: &GenesisData) -> Delta {
    let mut delta = Delta::new();
    for entry in &genesis.entries {
        let space = entry.space.clone().unwrap_or_default();
        delta.insert(state_key(&space, &entry.key), Some(entry.value.clone()));
    }
    delta.insert(metadata_state_key("chain_id"), Some(chain_id(genesis)));
    delta
}

#[derive(Serialize, Deserialize, Default)]
struct JsonGenesis {
    #[serde(default)]
    entries: Vec<JsonEntry>,
}

#[derive(Serialize, Deserialize, Default)]
struct JsonEntry {
    #[serde(default)]
    space: JsonSpace,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    value: String,
}

#[derive(Serialize, Deserialize, Default)]
struct JsonSpace {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    system: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    zone: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    id: u32,
}

fn is_zero(id: &u32) -> bool {
    *id == 0
}

fn decode_b64(field: &str, text: &str) -> ChainResult<Vec<u8>> {
    // Standard protobuf JSON accepts both alphabets, padded or not.
    let cleaned: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cleaned)
        .map_err(|e| {
            ChainError::new(
                code::FAILURE,
                format!("genesis {field}: invalid base64: {e}"),
            )
        })
}

/// Parses genesis data from standard protobuf JSON.
pub fn parse_genesis_json(text: &str) -> ChainResult<GenesisData> {
    let json: JsonGenesis = serde_json::from_str(text)
        .map_err(|e| ChainError::new(code::FAILURE, format!("invalid genesis JSON: {e}")))?;
    let entries = json
        .entries
        .into_iter()
        .map(|e| {
            Ok(GenesisEntry {
                space: Some(ObjectSpace {
                    system: e.space.system,
                    zone: decode_b64("zone", &e.space.zone)?,
                    id: e.space.id,
                }),
                key: decode_b64("key", &e.key)?,
                value: decode_b64("value", &e.value)?,
            })
        })
        .collect::<ChainResult<_>>()?;
    Ok(GenesisData { entries })
}

/// Renders genesis data as standard protobuf JSON (padded standard base64).
pub fn genesis_to_json(genesis: &GenesisData) -> String {
    let json = JsonGenesis {
        entries: genesis
            .entries
            .iter()
            .map(|e| {
                let space = e.space.clone().unwrap_or_default();
                JsonEntry {
                    space: JsonSpace {
                        system: space.system,
                        zone: STANDARD.encode(&space.zone),
                        id: space.id,
                    },
                    key: STANDARD.encode(&e.key),
                    value: STANDARD.encode(&e.value),
                }
            })
            .collect(),
    };
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

/// Reads genesis data from a JSON file.
pub fn load_genesis(path: &Path) -> ChainResult<GenesisData> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ChainError::new(
            code::FAILURE,
            format!("cannot read genesis data {path:?}: {e}"),
        )
    })?;
    parse_genesis_json(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_chain_id_matches_the_published_one() {
        let text = include_str!("testdata/mainnet-genesis_data.json");
        let genesis = parse_genesis_json(text).expect("mainnet genesis test data");
        let id = base64::engine::general_purpose::URL_SAFE.encode(chain_id(&genesis));
        assert_eq!(id, "EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==");
        // Rendering and parsing again keeps the chain id.
        let again = parse_genesis_json(&genesis_to_json(&genesis)).unwrap();
        assert_eq!(chain_id(&again), chain_id(&genesis));
    }
}
