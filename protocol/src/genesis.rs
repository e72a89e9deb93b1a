//! Genesis data and the chain id (docs/protocol.md "Chain id and genesis").
//!
//! `genesis_data.json` is *standard* protobuf JSON (bytes as standard padded base64), not Koinos
//! JSON, so it is read and written with prost-reflect's protojson support.

use prost::{Message, Name};
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};

use crate::crypto::sha256_multihash;
use crate::pb::descriptor_pool;
use crate::pb::koinos::chain::{GenesisData, GenesisEntry, ObjectSpace, SystemSpaceId};

/// Why genesis data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis data is not valid protobuf JSON: {0}")]
    Json(String),
    #[error("genesis data does not match koinos.chain.genesis_data: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// Parses `genesis_data.json` (standard protobuf JSON; unknown fields are ignored).
pub fn genesis_from_json(text: &str) -> Result<GenesisData, GenesisError> {
    let desc = genesis_descriptor();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let message = DynamicMessage::deserialize_with_options(desc, &mut deserializer, &options)
        .map_err(|e| GenesisError::Json(e.to_string()))?;
    deserializer
        .end()
        .map_err(|e| GenesisError::Json(e.to_string()))?;
    Ok(message.transcode_to()?)
}

/// Renders genesis data as standard protobuf JSON, the format of `genesis_data.json`.
pub fn genesis_to_json(genesis: &GenesisData) -> String {
    let message = DynamicMessage::decode(genesis_descriptor(), genesis.encode_to_vec().as_slice())
        .expect("a generated message decodes under its own descriptor");
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    message
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .expect("serializing to a Vec cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

fn genesis_descriptor() -> MessageDescriptor {
    descriptor_pool()
        .get_message_by_name(&GenesisData::full_name())
        .expect("genesis_data is in the built-in pool")
}

/// `multihash(sha256(serialized genesis_data))`, entries in file order.
pub fn chain_id(genesis: &GenesisData) -> Vec<u8> {
    sha256_multihash(&genesis.encode_to_vec())
}

/// Key of a chain metadata object: the multihash of sha256(`"object_key::<name>"`), e.g.
/// `genesis_key`, `chain_id`, `resource_limit_data`, `block_hash_code`.
pub fn metadata_key(name: &str) -> Vec<u8> {
    sha256_multihash(format!("object_key::{name}").as_bytes())
}

/// The metadata space: system, empty zone, id 0.
pub fn metadata_space() -> ObjectSpace {
    ObjectSpace {
        system: true,
        zone: Vec::new(),
        id: SystemSpaceId::Metadata as u32,
    }
}

/// The value of the metadata object `name` in `genesis`, if present.
pub fn metadata_value<'a>(genesis: &'a GenesisData, name: &str) -> Option<&'a [u8]> {
    let key = metadata_key(name);
    let space = metadata_space();
    genesis
        .entries
        .iter()
        .find(|e| e.key == key && e.space.as_ref().unwrap_or(&ObjectSpace::default()) == &space)
        .map(|e| e.value.as_slice())
}

/// A metadata genesis entry, as used to build a devnet genesis.
pub fn metadata_entry(name: &str, value: Vec<u8>) -> GenesisEntry {
    GenesisEntry {
        space: Some(metadata_space()),
        key: metadata_key(name),
        value,
    }
}
