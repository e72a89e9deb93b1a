//! Where the chain finds its genesis data (`basedir/chain/genesis_data.json`), the root state it
//! writes from it, and the system object spaces it reads (docs/protocol.md "Chain id and
//! genesis"). Parsing, the chain id and metadata keys are [`koinos_protocol::genesis`].

use std::path::Path;

use koinos_protocol::chain::{GenesisData, ObjectSpace};
use koinos_protocol::genesis::{chain_id, genesis_from_json, metadata_key};

use super::error::{ChainError, ChainResult, code};
use super::state::{Delta, state_key};

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

/// State key of metadata object `name`.
pub fn metadata_state_key(name: &str) -> Vec<u8> {
    state_key(&system_space(space::METADATA), &metadata_key(name))
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

/// Reads genesis data from a JSON file (standard protobuf JSON).
pub fn load_genesis(path: &Path) -> ChainResult<GenesisData> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ChainError::new(
            code::FAILURE,
            format!("cannot read genesis data {path:?}: {e}"),
        )
    })?;
    genesis_from_json(&text)
        .map_err(|e| ChainError::new(code::FAILURE, format!("invalid genesis JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use koinos_protocol::genesis::genesis_to_json;

    #[test]
    fn mainnet_chain_id_matches_the_published_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/chain/testdata/mainnet-genesis_data.json");
        let genesis = load_genesis(&path).expect("mainnet genesis test data");
        let id = base64::engine::general_purpose::URL_SAFE.encode(chain_id(&genesis));
        assert_eq!(id, "EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==");
        // Rendering and parsing again keeps the chain id.
        let again = genesis_from_json(&genesis_to_json(&genesis)).unwrap();
        assert_eq!(chain_id(&again), chain_id(&genesis));
    }

    #[test]
    fn the_root_state_holds_every_entry_and_the_chain_id() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/chain/testdata/mainnet-genesis_data.json");
        let genesis = load_genesis(&path).unwrap();
        let delta = genesis_delta(&genesis);
        assert_eq!(delta.len(), genesis.entries.len() + 1);
        assert_eq!(
            delta.get(&metadata_state_key("chain_id")),
            Some(&Some(chain_id(&genesis)))
        );
        let missing = load_genesis(&path.with_file_name("absent.json")).unwrap_err();
        assert_eq!(missing.code, code::FAILURE);
    }
}
