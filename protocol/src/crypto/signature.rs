//! secp256k1 keys and 65-byte compact recoverable signatures `[recid + 31] ‖ r ‖ s` over the
//! 32-byte digest of an id, low-S enforced; WIF import and export.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};

use super::{Address, CryptoError, checksum4};
use crate::crypto::multihash::{Multihash, sha256};

/// Length of a compact recoverable signature.
pub const SIGNATURE_LEN: usize = 65;

/// Header byte offset for a compressed-key recoverable signature (27 + 4).
const COMPRESSED_HEADER: u8 = 31;
/// WIF version byte and compressed-key suffix.
const WIF_VERSION: u8 = 0x80;
const WIF_COMPRESSED: u8 = 0x01;

/// A secp256k1 private key.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

/// A secp256k1 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.public_key().address())
    }
}

impl PrivateKey {
    /// A private key from its 32 secret bytes.
    pub fn from_bytes(secret: &[u8]) -> Result<Self, CryptoError> {
        SigningKey::from_slice(secret)
            .map(Self)
            .map_err(|_| CryptoError::InvalidPrivateKey)
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        use rand::Rng;
        loop {
            let mut secret = [0u8; 32];
            rand::rng().fill(&mut secret);
            // Zero or >= the curve order: astronomically unlikely, draw again.
            if let Ok(key) = Self::from_bytes(&secret) {
                return key;
            }
        }
    }

    /// A deterministic key for tests, benchmarks and devnets: the secret is sha256(`seed`)
    /// (`"koinos-test-vector"` gives the reference test vector's key).
    pub fn from_seed(seed: &str) -> Self {
        Self::from_bytes(&sha256(seed.as_bytes())).expect("a sha256 digest is a valid secret")
    }

    /// The 32 secret bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    pub fn address(&self) -> Address {
        self.public_key().address()
    }

    /// WIF: base58 of `0x80 ‖ secret ‖ 0x01 ‖ checksum`.
    pub fn to_wif(&self) -> String {
        let mut payload = Vec::with_capacity(38);
        payload.push(WIF_VERSION);
        payload.extend_from_slice(&self.to_bytes());
        payload.push(WIF_COMPRESSED);
        let check = checksum4(&payload);
        payload.extend_from_slice(&check);
        bs58::encode(payload).into_string()
    }

    /// Parses a WIF key (compressed form, or the legacy form without the `0x01` suffix).
    pub fn from_wif(wif: &str) -> Result<Self, CryptoError> {
        let bytes = bs58::decode(wif.trim())
            .into_vec()
            .map_err(|e| CryptoError::Base58(e.to_string()))?;
        if bytes.len() < 5 {
            return Err(CryptoError::InvalidWif(format!("{} bytes", bytes.len())));
        }
        let (payload, check) = bytes.split_at(bytes.len() - 4);
        if checksum4(payload) != check {
            return Err(CryptoError::Checksum);
        }
        let secret = match payload {
            [WIF_VERSION, secret @ .., WIF_COMPRESSED] if secret.len() == 32 => secret,
            [WIF_VERSION, secret @ ..] if secret.len() == 32 => secret,
            _ => {
                return Err(CryptoError::InvalidWif(format!(
                    "{}-byte payload",
                    payload.len()
                )));
            }
        };
        Self::from_bytes(secret)
    }

    /// Signs a 32-byte digest (RFC 6979, low-S) as `[recid + 31] ‖ r ‖ s`.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> [u8; SIGNATURE_LEN] {
        let (signature, recovery_id) = self.0.sign_prehash_recoverable(digest);
        // k256 already normalizes; keep the recovery id consistent if it ever did not.
        let (signature, recovery_id) = match signature.normalize_s() {
            normalized if normalized == signature => (signature, recovery_id),
            normalized => (
                normalized,
                RecoveryId::new(!recovery_id.is_y_odd(), recovery_id.is_x_reduced()),
            ),
        };
        let mut out = [0u8; SIGNATURE_LEN];
        out[0] = COMPRESSED_HEADER + recovery_id.to_byte();
        out[1..].copy_from_slice(&signature.to_bytes());
        out
    }

    /// Signs an id (a sha2-256 multihash): Koinos signs the digest part `id[2..34]`.
    pub fn sign_id(&self, id: &[u8]) -> Result<[u8; SIGNATURE_LEN], CryptoError> {
        Ok(self.sign_digest(&Multihash::sha256_digest_of(id)?))
    }
}

impl PublicKey {
    /// A public key from SEC1 bytes (33-byte compressed or 65-byte uncompressed).
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| CryptoError::InvalidPublicKey)
    }

    /// The 33-byte compressed SEC1 encoding.
    pub fn to_compressed(&self) -> [u8; 33] {
        let point = self.0.to_sec1_point(true);
        let mut out = [0u8; 33];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The 65-byte uncompressed SEC1 encoding.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let point = self.0.to_sec1_point(false);
        let mut out = [0u8; 65];
        out.copy_from_slice(point.as_bytes());
        out
    }

    pub fn address(&self) -> Address {
        Address::from_compressed_public_key(&self.to_compressed())
    }
}

/// Recovers the public key that produced a 65-byte compact signature over `digest`.
/// Rejects high-S signatures ("signature must be canonical") like the Koinos chain does.
pub fn recover_public_key(digest: &[u8; 32], signature: &[u8]) -> Result<PublicKey, CryptoError> {
    let signature: &[u8; SIGNATURE_LEN] = signature
        .try_into()
        .map_err(|_| CryptoError::SignatureLength(signature.len()))?;
    let header = signature[0];
    // 27..=30 (uncompressed marker) and 31..=34 (compressed) both carry the id in the low bits.
    if !(27..=34).contains(&header) {
        return Err(CryptoError::RecoveryHeader(header));
    }
    let recovery_id =
        RecoveryId::from_byte((header - 27) & 3).ok_or(CryptoError::RecoveryHeader(header))?;
    let parsed = Signature::from_slice(&signature[1..]).map_err(|_| CryptoError::Recovery)?;
    if parsed.normalize_s() != parsed {
        return Err(CryptoError::NonCanonicalSignature);
    }
    VerifyingKey::recover_from_prehash(digest, &parsed, recovery_id)
        .map(PublicKey)
        .map_err(|_| CryptoError::Recovery)
}

/// Recovers the signer's address of a signature over an id (sha2-256 multihash).
pub fn recover_address_from_id(id: &[u8], signature: &[u8]) -> Result<Address, CryptoError> {
    let digest = Multihash::sha256_digest_of(id)?;
    Ok(recover_public_key(&digest, signature)?.address())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256_multihash;

    fn key() -> PrivateKey {
        PrivateKey::from_bytes(&sha256(b"signature tests")).unwrap()
    }

    #[test]
    fn sign_then_recover_gives_the_signer() {
        let key = key();
        for message in [&b"a"[..], b"b", b"koinos"] {
            let digest = sha256(message);
            let signature = key.sign_digest(&digest);
            assert!((31..=34).contains(&signature[0]));
            let public = recover_public_key(&digest, &signature).unwrap();
            assert_eq!(public, key.public_key());
            assert_eq!(public.address(), key.address());
        }
        let id = sha256_multihash(b"header");
        let signature = key.sign_id(&id).unwrap();
        assert_eq!(
            recover_address_from_id(&id, &signature).unwrap(),
            key.address()
        );
    }

    #[test]
    fn recovery_over_another_digest_gives_another_address() {
        let key = key();
        let signature = key.sign_digest(&sha256(b"one"));
        let other = recover_public_key(&sha256(b"two"), &signature).unwrap();
        assert_ne!(other.address(), key.address());
    }

    #[test]
    fn high_s_signatures_are_rejected_as_non_canonical() {
        let key = key();
        let digest = sha256(b"malleable");
        let signature = key.sign_digest(&digest);
        let parsed = Signature::from_slice(&signature[1..]).unwrap();
        let negated_s: k256::Scalar = -*parsed.s();
        let high = Signature::from_scalars(parsed.r().to_bytes(), negated_s.to_bytes()).unwrap();
        let mut malleated = [0u8; SIGNATURE_LEN];
        // The flipped recovery id would make the malleated form recover the same key.
        malleated[0] = COMPRESSED_HEADER + ((signature[0] - COMPRESSED_HEADER) ^ 1);
        malleated[1..].copy_from_slice(&high.to_bytes());
        assert_eq!(
            recover_public_key(&digest, &malleated),
            Err(CryptoError::NonCanonicalSignature)
        );
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let digest = sha256(b"x");
        let signature = key().sign_digest(&digest);
        assert_eq!(
            recover_public_key(&digest, &signature[..64]),
            Err(CryptoError::SignatureLength(64))
        );
        let mut bad_header = signature;
        bad_header[0] = 0;
        assert_eq!(
            recover_public_key(&digest, &bad_header),
            Err(CryptoError::RecoveryHeader(0))
        );
        // r = s = 0 is not a signature.
        let mut zero = [0u8; SIGNATURE_LEN];
        zero[0] = COMPRESSED_HEADER;
        assert_eq!(
            recover_public_key(&digest, &zero),
            Err(CryptoError::Recovery)
        );
    }

    #[test]
    fn wif_round_trips_and_detects_corruption() {
        let key = PrivateKey::generate();
        let wif = key.to_wif();
        assert_eq!(
            PrivateKey::from_wif(&wif).unwrap().to_bytes(),
            key.to_bytes()
        );
        let mut corrupted = bs58::decode(&wif).into_vec().unwrap();
        corrupted[10] ^= 0xff;
        let corrupted = bs58::encode(corrupted).into_string();
        assert_eq!(
            PrivateKey::from_wif(&corrupted).unwrap_err(),
            CryptoError::Checksum
        );
        assert!(PrivateKey::from_wif("not base58 0OIl").is_err());
        assert!(PrivateKey::from_bytes(&[0u8; 32]).is_err());
    }

    #[test]
    fn seeded_keys_are_sha256_of_the_seed() {
        let key = PrivateKey::from_seed("koinos-test-vector");
        assert_eq!(key.to_bytes(), sha256(b"koinos-test-vector"));
        assert_eq!(
            key.to_wif(),
            "Kzhn4jgyMDrRGAT8PhMvvjH3DhFvskzKCBvc7gfBxH97zu4YVZM9"
        );
        assert_eq!(
            key.address().to_string(),
            "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"
        );
        assert_ne!(PrivateKey::from_seed("other").address(), key.address());
    }

    #[test]
    fn public_keys_parse_from_compressed_bytes() {
        let public = key().public_key();
        let compressed = public.to_compressed();
        assert_eq!(PublicKey::from_sec1_bytes(&compressed).unwrap(), public);
        assert!(PublicKey::from_sec1_bytes(&compressed[..32]).is_err());
    }
}
