//! The producer's signing key: WIF in `private-key-file` (default
//! `basedir/block_producer/private.key`), generated when missing, and `public.key` (the
//! compressed public key, base64url) rewritten beside it on every start, as the official
//! producer does.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::crypto::{Address, CryptoError, PrivateKey};

/// A producer key with its address.
#[derive(Clone)]
pub struct ProducerKey {
    key: PrivateKey,
    address: Address,
}

impl std::fmt::Debug for ProducerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("ProducerKey")
            .field("address", &self.address.to_string())
            .finish()
    }
}

impl From<PrivateKey> for ProducerKey {
    fn from(key: PrivateKey) -> Self {
        let address = key.address();
        Self { key, address }
    }
}

impl ProducerKey {
    /// Parses a WIF (compressed or uncompressed form).
    pub fn from_wif(wif: &str) -> Result<Self, CryptoError> {
        PrivateKey::from_wif(wif).map(Self::from)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        PrivateKey::generate().into()
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// The 25-byte address blocks are signed for (`header.signer`).
    pub fn address(&self) -> &[u8] {
        self.address.as_bytes()
    }

    pub fn wif(&self) -> String {
        self.key.to_wif()
    }

    /// The compressed (33-byte) public key.
    pub fn public_key(&self) -> [u8; 33] {
        self.key.public_key().to_compressed()
    }

    /// Reads the WIF in `path`, or generates a key and writes it there (mode 0600); then
    /// writes `public.key` (base64url of the compressed public key) in the same directory when
    /// it can: a key mounted from a Kubernetes Secret sits in a read-only directory, and the
    /// public key is only a convenience for people, so that is not an error.
    pub fn load_or_generate(path: &Path) -> anyhow::Result<Self> {
        let key = if path.exists() {
            let text = std::fs::read_to_string(path)?;
            Self::from_wif(&text)?
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
        if let Err(error) = std::fs::write(&public, URL_SAFE.encode(key.public_key())) {
            tracing::info!(path = %public.display(), %error, "public.key not written (read-only key directory?)");
        }
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
    fn a_key_whose_public_key_cannot_be_written_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.key");
        let key = ProducerKey::generate();
        std::fs::write(&path, key.wif()).unwrap();
        // As on a read-only Secret mount, writing public.key fails (a directory in its place
        // makes it fail for root too).
        std::fs::create_dir(dir.path().join("public.key")).unwrap();
        let loaded = ProducerKey::load_or_generate(&path).unwrap();
        assert_eq!(loaded.wif(), key.wif());
    }

    #[test]
    fn wif_matches_the_protocol_test_vector() {
        let secret = koinos_protocol::crypto::sha256(b"koinos-test-vector");
        let key = ProducerKey::from(PrivateKey::from_bytes(&secret).unwrap());
        let wif = key.wif();
        assert_eq!(wif, "Kzhn4jgyMDrRGAT8PhMvvjH3DhFvskzKCBvc7gfBxH97zu4YVZM9");
        assert_eq!(
            ProducerKey::from_wif(&wif)
                .unwrap()
                .private_key()
                .to_bytes(),
            secret
        );
        assert_eq!(
            bs58::encode(key.address()).into_string(),
            "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"
        );
        assert!(!format!("{key:?}").contains(&wif));
    }

    #[test]
    fn corrupted_wifs_are_rejected() {
        let wif = "Kzhn4jgyMDrRGAT8PhMvvjH3DhFvskzKCBvc7gfBxH97zu4YVZM8";
        assert!(ProducerKey::from_wif(wif).is_err());
        assert!(ProducerKey::from_wif("0OIl").is_err());
        assert!(ProducerKey::from_wif("").is_err());
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
