//! Koinos addresses: 25 bytes `0x00 ‖ RIPEMD160(SHA256(compressed pubkey)) ‖ checksum`, shown as
//! base58 (Bitcoin alphabet). Contract ids use the same format.

use std::fmt;
use std::str::FromStr;

use ripemd::{Digest, Ripemd160};

use super::{CryptoError, checksum4, sha256};

/// Length of an address in bytes.
pub const ADDRESS_LEN: usize = 25;

/// A 25-byte Koinos address (or contract id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address([u8; ADDRESS_LEN]);

impl Address {
    /// The address of a 33-byte compressed secp256k1 public key.
    pub fn from_compressed_public_key(public_key: &[u8; 33]) -> Self {
        let mut hash = Ripemd160::new();
        hash.update(sha256(public_key));
        let mut bytes = [0u8; ADDRESS_LEN];
        bytes[1..21].copy_from_slice(&hash.finalize());
        let check = checksum4(&bytes[..21]);
        bytes[21..].copy_from_slice(&check);
        Self(bytes)
    }

    /// Validates raw address bytes (length, version 0 and checksum).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let bytes: [u8; ADDRESS_LEN] = bytes.try_into().map_err(|_| {
            CryptoError::InvalidAddress(format!(
                "expected {ADDRESS_LEN} bytes, got {}",
                bytes.len()
            ))
        })?;
        if bytes[0] != 0 {
            return Err(CryptoError::InvalidAddress(format!(
                "version byte {:#04x}",
                bytes[0]
            )));
        }
        if checksum4(&bytes[..21]) != bytes[21..] {
            return Err(CryptoError::Checksum);
        }
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; ADDRESS_LEN] {
        &self.0
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl FromStr for Address {
    type Err = CryptoError;

    /// Parses base58 and validates the checksum.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(text)
            .into_vec()
            .map_err(|e| CryptoError::Base58(e.to_string()))?;
        Self::from_bytes(&bytes)
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Address> for Vec<u8> {
    fn from(address: Address) -> Self {
        address.0.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_round_trip_and_checksum() {
        let text = "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK";
        let address: Address = text.parse().unwrap();
        assert_eq!(address.to_string(), text);
        let mut bytes = address.to_vec();
        bytes[24] ^= 1;
        assert_eq!(Address::from_bytes(&bytes), Err(CryptoError::Checksum));
        assert!(Address::from_bytes(&bytes[..24]).is_err());
        assert!(
            "1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRL"
                .parse::<Address>()
                .is_err()
        );
        assert!(
            "0D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"
                .parse::<Address>()
                .is_err()
        );
    }

    #[test]
    fn mainnet_token_contract_id_is_a_valid_address() {
        let koin: Address = "15DJN4a8SgrbGhhGksSBASiSYjGnMU8dGL".parse().unwrap();
        assert_eq!(koin.as_bytes()[0], 0);
    }
}
