//! Koinos signatures and addresses (§3.3): 65-byte compact recoverable secp256k1 signatures
//! over the 32-byte digest part of an id, and 25-byte addresses.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

/// The 25-byte address of a compressed public key:
/// `0x00 ‖ RIPEMD160(SHA256(pubkey)) ‖ SHA256²(first 21 bytes)[0..4]`.
pub fn address_of_public_key(compressed: &[u8]) -> Vec<u8> {
    let mut address = Vec::with_capacity(25);
    address.push(0u8);
    address.extend_from_slice(&Ripemd160::digest(Sha256::digest(compressed)));
    let check = Sha256::digest(Sha256::digest(&address));
    address.extend_from_slice(&check[..4]);
    address
}

/// Recovers the signer's address from a 65-byte `[recid+31] ‖ r ‖ s` signature over `digest`.
/// `None` for a malformed or non-canonical (high-S) signature.
pub fn recover_address(signature: &[u8], digest: &[u8]) -> Option<Vec<u8>> {
    if signature.len() != 65 || digest.len() != 32 {
        return None;
    }
    let recid = RecoveryId::from_byte(signature[0].checked_sub(31)?)?;
    let sig = Signature::from_slice(&signature[1..]).ok()?;
    if sig.normalize_s() != sig {
        return None;
    }
    let key = VerifyingKey::recover_from_prehash(digest, &sig, recid).ok()?;
    Some(address_of_public_key(key.to_sec1_point(true).as_bytes()))
}

/// A secp256k1 private key that signs the way Koinos expects.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    pub fn from_bytes(secret: &[u8]) -> Option<Self> {
        SigningKey::from_slice(secret).ok().map(Self)
    }

    /// A deterministic key for tests and benchmarks: sha256(seed).
    pub fn from_seed(seed: &str) -> Self {
        Self::from_bytes(&Sha256::digest(seed.as_bytes())).expect("sha256 output is a valid key")
    }

    pub fn address(&self) -> Vec<u8> {
        address_of_public_key(self.0.verifying_key().to_sec1_point(true).as_bytes())
    }

    /// Signs a 32-byte digest: `[recid+31] ‖ r ‖ s` with low S.
    pub fn sign(&self, digest: &[u8]) -> Vec<u8> {
        let (sig, recid) = self.0.sign_prehash_recoverable(digest);
        let (sig, recid) = match sig.normalize_s() {
            normalized if normalized != sig => (
                normalized,
                RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced()),
            ),
            _ => (sig, recid),
        };
        let mut out = Vec::with_capacity(65);
        out.push(recid.to_byte() + 31);
        out.extend_from_slice(&sig.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
