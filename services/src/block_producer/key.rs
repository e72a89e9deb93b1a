//! The producer's signing key: WIF in `private-key-file` (default
//! `basedir/block_producer/private.key`), generated when missing, and `public.key` (the
//! compressed public key, base64url) rewritten beside it on every start, as the official
//! producer does.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::chain::crypto::PrivateKey;

/// WIF: base58 of `0x80 ‖ secret ‖ 0x01 ‖ first 4 bytes of sha256²` (compressed key).
pub fn wif_encode(secret: &[u8; 32]) -> String {
    let mut payload = Vec::with_capacity(38);
    payload.push(0x80);
    payload.extend_from_slice(secret);
    payload.push(0x01);
    let check = Sha256::digest(Sha256::digest(&payload));
    payload.extend_from_slice(&check[..4]);
    bs58::encode(payload).into_string()
}

/// Parses a WIF (compressed or uncompressed form) into the 32-byte secret.
pub fn wif_decode(wif: &str) -> Result<[u8; 32], String> {
    let bytes = bs58::decode(wif.trim())
        .into_vec()
        .map_err(|e| format!("invalid WIF: {e}"))?;
    if !(bytes.len() == 37 || bytes.len() == 38) || bytes[0] != 0x80 {
        return Err("invalid WIF: wrong length or version byte".into());
    }
    let (payload, check) = bytes.split_at(bytes.len() - 4);
    if Sha256::digest(Sha256::digest(payload))[..4] != *check {
        return Err("invalid WIF: bad checksum".into());
    }
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&payload[1..33]);
    Ok(secret)
}

/// The compressed (33-byte) public key of `secret`.
pub fn public_key(secret: &[u8; 32]) -> Result<Vec<u8>, String> {
    let key = k256::ecdsa::SigningKey::from_slice(secret).map_err(|e| e.to_string())?;
    Ok(key.verifying_key().to_sec1_point(true).as_bytes().to_vec())
}

/// A producer key with its address.
#[derive(Clone)]
pub struct ProducerKey {
    key: PrivateKey,
    secret: [u8; 32],
    address: Vec<u8>,
}

impl std::fmt::Debug for ProducerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("ProducerKey")
            .field("address", &bs58::encode(&self.address).into_string())
            .finish()
    }
}

impl ProducerKey {
    pub fn from_secret(secret: [u8; 32]) -> Result<Self, String> {
        let key = PrivateKey::from_bytes(&secret).ok_or("invalid secp256k1 secret")?;
        let address = key.address();
        Ok(Self {
            key,
            secret,
            address,
        })
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        loop {
            let secret: [u8; 32] = rand::rng().random();
            if let Ok(key) = Self::from_secret(secret) {
                return key;
            }
        }
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// The 25-byte address blocks are signed for (`header.signer`).
    pub fn address(&self) -> &[u8] {
        &self.address
    }

    pub fn wif(&self) -> String {
        wif_encode(&self.secret)
    }

    pub fn public_key(&self) -> Vec<u8> {
        public_key(&self.secret).expect("a valid secret has a public key")
    }

    /// Reads the WIF in `path`, or generates a key and writes it there (mode 0600); then
    /// writes `public.key` (base64url of the compressed public key) in the same directory.
    pub fn load_or_generate(path: &Path) -> anyhow::Result<Self> {
        let key = if path.exists() {
            let text = std::fs::read_to_string(path)?;
            Self::from_secret(wif_decode(&text).map_err(anyhow::Error::msg)?)
                .map_err(anyhow::Error::msg)?
        } else {
            let key = Self::generate();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private(path, &key.wif())?;
            tracing::info!(path = %path.display(), "generated a new block producer key");
            key
        };
        let public = path.with_file_name("public.key");
        std::fs::write(&public, URL_SAFE.encode(key.public_key()))?;
        Ok(key)
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wif_matches_the_protocol_test_vector() {
        let secret: [u8; 32] = Sha256::digest(b"koinos-test-vector").into();
        let wif = wif_encode(&secret);
        assert_eq!(wif, "Kzhn4jgyMDrRGAT8PhMvvjH3DhFvskzKCBvc7gfBxH97zu4YVZM9");
        assert_eq!(wif_decode(&wif).unwrap(), secret);
        let key = ProducerKey::from_secret(secret).unwrap();
        assert_eq!(
            bs58::encode(key.address()).into_string(),
            "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"
        );
        assert!(!format!("{key:?}").contains(&wif));
    }

    #[test]
    fn corrupted_wifs_are_rejected() {
        let wif = "Kzhn4jgyMDrRGAT8PhMvvjH3DhFvskzKCBvc7gfBxH97zu4YVZM8";
        assert!(wif_decode(wif).is_err());
        assert!(wif_decode("0OIl").is_err());
        assert!(wif_decode("").is_err());
    }

    #[test]
    fn a_missing_key_is_generated_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("block_producer/private.key");
        let first = ProducerKey::load_or_generate(&path).unwrap();
        let second = ProducerKey::load_or_generate(&path).unwrap();
        assert_eq!(first.address(), second.address());
        let public = std::fs::read_to_string(path.with_file_name("public.key")).unwrap();
        assert_eq!(URL_SAFE.decode(public).unwrap(), first.public_key());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
