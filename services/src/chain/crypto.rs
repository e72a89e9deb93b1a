//! Koinos signatures and addresses (§3.3) as the chain uses them, over the protocol library:
//! 65-byte compact recoverable secp256k1 signatures over the 32-byte digest part of an id, and
//! 25-byte addresses as raw bytes.

use koinos_protocol::crypto::{self, recover_public_key};

/// Recovers the signer's address from a 65-byte `[recid+31] ‖ r ‖ s` signature over `digest`.
/// `None` for a malformed or non-canonical (high-S) signature.
pub fn recover_address(signature: &[u8], digest: &[u8]) -> Option<Vec<u8>> {
    let digest: &[u8; 32] = digest.try_into().ok()?;
    recover_public_key(digest, signature)
        .ok()
        .map(|key| key.address().to_vec())
}

/// A secp256k1 private key that signs the way Koinos expects.
#[derive(Clone)]
pub struct PrivateKey(crypto::PrivateKey);

impl PrivateKey {
    pub fn from_bytes(secret: &[u8]) -> Option<Self> {
        crypto::PrivateKey::from_bytes(secret).ok().map(Self)
    }

    /// A deterministic key for tests and benchmarks: sha256(seed).
    pub fn from_seed(seed: &str) -> Self {
        Self::from_bytes(&crypto::sha256(seed.as_bytes())).expect("sha256 output is a valid key")
    }

    /// The protocol library's key (WIF, public key).
    pub fn inner(&self) -> &crypto::PrivateKey {
        &self.0
    }

    pub fn address(&self) -> Vec<u8> {
        self.0.address().to_vec()
    }

    /// Signs a 32-byte digest: `[recid+31] ‖ r ‖ s` with low S.
    pub fn sign(&self, digest: &[u8]) -> Vec<u8> {
        let digest: &[u8; 32] = digest.try_into().expect("a 32-byte digest");
        self.0.sign_digest(digest).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn signatures_recover_to_the_signer_address() {
        let key = PrivateKey::from_seed("koinos-test-vector");
        // §3.6: address 1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK.
        assert_eq!(
            bs58::encode(key.address()).into_string(),
            "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"
        );
        let digest = Sha256::digest(b"message");
        let signature = key.sign(&digest);
        assert_eq!(recover_address(&signature, &digest), Some(key.address()));
        let mut tampered = signature.clone();
        tampered[10] ^= 1;
        assert_ne!(recover_address(&tampered, &digest), Some(key.address()));
        assert_eq!(recover_address(&signature[..64], &digest), None);
    }
}
