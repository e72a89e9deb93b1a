//! The p2p node key derived from a seed, and its libp2p peer id.
//!
//! Shared by `koinos-p2p` (which builds its libp2p identity from [`node_secret`]) and the
//! operator (which generates the seed and publishes the peer id in the cluster's status, so
//! another cluster can list this node as a seed). The derivation is ours: the official node
//! seeds Go's `math/rand` with md5(seed) and feeds it to `ecdsa.GenerateKey`, which since Go
//! 1.20 reads an extra random byte half of the time, so its peer id cannot be reproduced.

use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

/// The ECDSA P-256 secret scalar for `seed`: sha256("koinos-p2p identity" ‖ counter ‖ seed)
/// for the first counter (big-endian u32) that is a valid scalar.
pub fn node_secret(seed: &str) -> [u8; 32] {
    for counter in 0u32.. {
        let mut hasher = Sha256::new();
        hasher.update(b"koinos-p2p identity");
        hasher.update(counter.to_be_bytes());
        hasher.update(seed.as_bytes());
        let candidate: [u8; 32] = hasher.finalize().into();
        if SigningKey::from_slice(&candidate).is_ok() {
            return candidate;
        }
    }
    unreachable!("a valid P-256 scalar is found within a few hashes")
}

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, secp256r1) holding a 65-byte
/// uncompressed point: the public key encoding libp2p peer ids hash for ECDSA keys.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The libp2p peer id (base58btc, `Qm...`) of the node key for `seed`: the sha2-256
/// multihash of the protobuf `PublicKey { Type: ECDSA, Data: <SPKI DER> }` (keys longer than
/// 42 bytes are hashed, per the libp2p peer-id spec).
pub fn peer_id(seed: &str) -> String {
    let key = SigningKey::from_slice(&node_secret(seed)).expect("node_secret is a valid scalar");
    let point = key.verifying_key().to_sec1_point(false);
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(point.as_bytes());
    // field 1 (KeyType) = 3 (ECDSA), field 2 (bytes) = the SPKI
    let mut public_key = vec![0x08, 0x03, 0x12, spki.len() as u8];
    public_key.extend_from_slice(&spki);
    let mut multihash = vec![0x12, 0x20];
    multihash.extend_from_slice(&Sha256::digest(&public_key));
    bs58::encode(multihash).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_key_is_a_function_of_the_seed() {
        assert_eq!(node_secret("alice"), node_secret("alice"));
        assert_ne!(node_secret("alice"), node_secret("bob"));
        let id = peer_id("alice");
        assert_eq!(id, peer_id("alice"));
        assert_ne!(id, peer_id("bob"));
        // a CIDv0-style sha2-256 multihash in base58btc
        assert!(id.starts_with("Qm") && id.len() == 46, "{id}");
    }
}
