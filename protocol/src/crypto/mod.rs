//! Koinos cryptography (docs/protocol.md "Data formats"): multihashes, secp256k1 compact
//! recoverable signatures, addresses and WIF keys; the proof-of-burn VRF ([`vrf`]).

pub mod address;
pub mod multihash;
pub mod signature;
pub mod vrf;

pub use address::{ADDRESS_LEN, Address};
pub use multihash::{Multihash, sha256, sha256_multihash};
pub use signature::{PrivateKey, PublicKey, SIGNATURE_LEN, recover_public_key};

/// Why a key, signature, address or multihash was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("invalid base58: {0}")]
    Base58(String),
    #[error("bad checksum")]
    Checksum,
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    #[error("invalid WIF private key: {0}")]
    InvalidWif(String),
    #[error("invalid private key")]
    InvalidPrivateKey,
    #[error("invalid public key")]
    InvalidPublicKey,
    #[error("signature must be 65 bytes, got {0}")]
    SignatureLength(usize),
    #[error("invalid signature recovery header {0}")]
    RecoveryHeader(u8),
    #[error("signature must be canonical")]
    NonCanonicalSignature,
    #[error("could not recover a public key from the signature")]
    Recovery,
    #[error("invalid multihash: {0}")]
    InvalidMultihash(String),
}

/// `SHA256(SHA256(data))[0..4]`, the base58check checksum used by addresses and WIF.
pub(crate) fn checksum4(data: &[u8]) -> [u8; 4] {
    let twice = sha256(&sha256(data));
    [twice[0], twice[1], twice[2], twice[3]]
}
