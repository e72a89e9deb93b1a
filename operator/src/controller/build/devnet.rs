//! Devnet: a genesis ConfigMap and a block producer key Secret, both derived from a key the
//! apply step generates once (or reads back from the existing Secret): the builders stay pure.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k256::ecdsa::SigningKey;
use ripemd::Ripemd160;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::config::GENESIS_FILE;
use super::meta::{LABEL_GENERATED, child_name, object_meta};
use crate::controller::validate::{
    PRODUCER_KEY_SECRET_KEY, ValidatedCluster, producer_key_secret_name,
};

/// Mainnet's `resource_limit_data` and `max_account_resources` (serialized protobuf), so a
/// devnet has the same resource economics.
const MAINNET_RESOURCE_LIMIT_DATA: &str = "CICAGRAKGICAQCAFKIDC1y8wAQ==";
const MAINNET_MAX_ACCOUNT_RESOURCES: &str = "CICt4gQ=";
/// `block_hash_code` = varint 0x12 (sha2-256).
const BLOCK_HASH_CODE: &[u8] = &[0x12];

/// A secp256k1 block producer key.
#[derive(Clone, PartialEq, Eq)]
pub struct ProducerKey {
    secret: [u8; 32],
}

impl std::fmt::Debug for ProducerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are never logged (design.md §5).
        f.debug_struct("ProducerKey")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

fn sha256d(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

impl ProducerKey {
    /// A key from 32 secret bytes; `None` when they are not a valid secp256k1 scalar.
    pub fn from_secret(secret: [u8; 32]) -> Option<Self> {
        SigningKey::from_slice(&secret)
            .ok()
            .map(|_| Self { secret })
    }

    /// Parse a compressed-key WIF (`0x80 ‖ secret ‖ 0x01 ‖ checksum`, base58).
    pub fn from_wif(wif: &str) -> Option<Self> {
        let bytes = bs58::decode(wif.trim()).into_vec().ok()?;
        if bytes.len() != 38
            || bytes[0] != 0x80
            || bytes[33] != 0x01
            || bytes[34..] != sha256d(&bytes[..34])[..4]
        {
            return None;
        }
        Self::from_secret(bytes[1..33].try_into().ok()?)
    }

    pub fn wif(&self) -> String {
        let mut bytes = vec![0x80];
        bytes.extend_from_slice(&self.secret);
        bytes.push(0x01);
        let checksum = sha256d(&bytes);
        bytes.extend_from_slice(&checksum[..4]);
        bs58::encode(bytes).into_string()
    }

    /// The 25-byte Koinos address: `0x00 ‖ RIPEMD160(SHA256(compressed pubkey)) ‖ checksum`.
    pub fn address_bytes(&self) -> Vec<u8> {
        let signing = SigningKey::from_slice(&self.secret).expect("checked at construction");
        let public = signing.verifying_key().to_sec1_point(true);
        let mut bytes = vec![0x00];
        bytes.extend_from_slice(&Ripemd160::digest(Sha256::digest(public.as_bytes())));
        let checksum = sha256d(&bytes);
        bytes.extend_from_slice(&checksum[..4]);
        bytes
    }

    pub fn address(&self) -> String {
        bs58::encode(self.address_bytes()).into_string()
    }
}

/// Metadata key: multihash(sha256, `object_key::<name>`).
fn metadata_key(name: &str) -> Vec<u8> {
    let mut key = vec![0x12, 0x20];
    key.extend_from_slice(&Sha256::digest(format!("object_key::{name}")));
    key
}

/// `genesis_data.json` (standard protobuf JSON) of a devnet signed by `key`.
pub fn devnet_genesis_json(key: &ProducerKey) -> String {
    let entry = |name: &str, value: &[u8]| json!({"space": {"system": true}, "key": STANDARD.encode(metadata_key(name)), "value": STANDARD.encode(value)});
    let decode = |b64: &str| STANDARD.decode(b64).expect("constant is base64");
    let genesis = json!({"entries": [
        entry("genesis_key", &key.address_bytes()),
        entry("resource_limit_data", &decode(MAINNET_RESOURCE_LIMIT_DATA)),
        entry("max_account_resources", &decode(MAINNET_MAX_ACCOUNT_RESOURCES)),
        entry("block_hash_code", BLOCK_HASH_CODE),
    ]});
    serde_json::to_string_pretty(&genesis).expect("genesis serializes")
}

pub fn genesis_config_map_name(vc: &ValidatedCluster) -> String {
    child_name(vc, "genesis")
}

/// The devnet genesis ConfigMap (immutable: the chain id must never change).
pub fn build_devnet_genesis_config_map(vc: &ValidatedCluster, key: &ProducerKey) -> ConfigMap {
    let mut metadata = object_meta(vc, genesis_config_map_name(vc), "genesis");
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_GENERATED.into(), "true".into());
    ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(
            GENESIS_FILE.to_string(),
            devnet_genesis_json(key),
        )])),
        immutable: Some(true),
        ..Default::default()
    }
}

/// The devnet producer key Secret: the WIF, and the address for convenience.
pub fn build_producer_key_secret(vc: &ValidatedCluster, key: &ProducerKey) -> Secret {
    let mut metadata = object_meta(vc, producer_key_secret_name(&vc.name), "block-producer");
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_GENERATED.into(), "true".into());
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (
                PRODUCER_KEY_SECRET_KEY.to_string(),
                ByteString(key.wif().into_bytes()),
            ),
            (
                "address".to_string(),
                ByteString(key.address().into_bytes()),
            ),
        ])),
        immutable: Some(true),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{DEVNET, validated};

    /// The protocol test vector (koinos-protocol.md §3.6).
    fn test_vector_key() -> ProducerKey {
        ProducerKey::from_secret(Sha256::digest("koinos-test-vector").into()).unwrap()
    }

    #[test]
    fn key_matches_the_protocol_test_vector() {
        let key = test_vector_key();
        assert_eq!(
            key.wif(),
            "Kzhn4jgyMDrRGAT8PhMvvjH3DhFvskzKCBvc7gfBxH97zu4YVZM9"
        );
        assert_eq!(key.address(), "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK");
        assert_eq!(ProducerKey::from_wif(&key.wif()), Some(key));
    }

    #[test]
    fn malformed_wifs_are_rejected() {
        let wif = test_vector_key().wif();
        let mut corrupted = wif.clone().into_bytes();
        corrupted[10] = if corrupted[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            ProducerKey::from_wif(&String::from_utf8(corrupted).unwrap()),
            None
        );
        assert_eq!(ProducerKey::from_wif("not base58 0OIl"), None);
        assert_eq!(
            ProducerKey::from_secret([0; 32]),
            None,
            "zero is not a valid scalar"
        );
    }

    #[test]
    fn genesis_key_entry_is_the_producer_address() {
        let key = test_vector_key();
        let genesis: serde_json::Value = serde_json::from_str(&devnet_genesis_json(&key)).unwrap();
        let first = &genesis["entries"][0];
        // Same metadata key as mainnet's genesis_key entry.
        assert_eq!(
            first["key"],
            "EiC3nO+XbeKg4C8ugW7M7XdfmJKY4i3l91KoJWxosQPImA=="
        );
        assert_eq!(
            STANDARD.decode(first["value"].as_str().unwrap()).unwrap(),
            key.address_bytes()
        );
    }

    #[test]
    fn devnet_objects_snapshot() {
        let vc = validated(DEVNET);
        let key = test_vector_key();
        insta::assert_yaml_snapshot!(
            "genesis_config_map",
            build_devnet_genesis_config_map(&vc, &key)
        );
        let secret = build_producer_key_secret(&vc, &key);
        assert_eq!(secret.metadata.name.as_deref(), Some("devnet-producer-key"));
        assert_eq!(
            secret.metadata.labels.as_ref().unwrap()[LABEL_GENERATED],
            "true"
        );
        assert!(secret.metadata.owner_references.is_some());
        assert!(format!("{key:?}").contains("1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"));
        assert!(
            !format!("{key:?}").contains(&key.wif()),
            "Debug never prints the key"
        );
    }
}
