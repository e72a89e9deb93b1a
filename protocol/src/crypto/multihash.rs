//! Multihash: `varint(code) ‖ varint(len) ‖ digest`. Koinos ids and merkle roots are sha2-256
//! multihashes (`0x12 0x20` + 32 bytes).

use sha2::{Digest, Sha256};

use super::CryptoError;

/// Multihash codes Koinos knows.
pub mod code {
    pub const SHA1: u64 = 0x11;
    pub const SHA2_256: u64 = 0x12;
    pub const SHA2_512: u64 = 0x13;
    pub const KECCAK_256: u64 = 0x1b;
    pub const RIPEMD_160: u64 = 0x1053;
}

/// The multihash of `data` under `code` (the `hash` system call): digests truncated to `size`
/// bytes when it is non-zero and smaller; `None` for an unknown code or a larger size.
pub fn hash(code: u64, data: &[u8], size: u64) -> Option<Vec<u8>> {
    let digest: Vec<u8> = match code {
        code::SHA1 => sha1::Sha1::digest(data).to_vec(),
        code::SHA2_256 => Sha256::digest(data).to_vec(),
        code::SHA2_512 => sha2::Sha512::digest(data).to_vec(),
        code::KECCAK_256 => sha3::Keccak256::digest(data).to_vec(),
        code::RIPEMD_160 => ripemd::Ripemd160::digest(data).to_vec(),
        _ => return None,
    };
    let size = match usize::try_from(size).ok()? {
        0 => digest.len(),
        n if n <= digest.len() => n,
        _ => return None,
    };
    Some(
        Multihash {
            code,
            digest: digest[..size].to_vec(),
        }
        .to_bytes(),
    )
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(data));
    out
}

/// The 34-byte sha2-256 multihash of `data`.
pub fn sha256_multihash(data: &[u8]) -> Vec<u8> {
    Multihash::sha256_digest(sha256(data)).to_bytes()
}

/// A decoded multihash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Multihash {
    pub code: u64,
    pub digest: Vec<u8>,
}

impl Multihash {
    /// A sha2-256 multihash of an already computed digest.
    pub fn sha256_digest(digest: [u8; 32]) -> Self {
        Self {
            code: code::SHA2_256,
            digest: digest.to_vec(),
        }
    }

    /// `varint(code) ‖ varint(len) ‖ digest`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.digest.len() + 4);
        write_varint(self.code, &mut out);
        write_varint(self.digest.len() as u64, &mut out);
        out.extend_from_slice(&self.digest);
        out
    }

    /// Parses a multihash; the digest must have exactly the declared length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let (code, rest) = read_varint(bytes)?;
        let (len, digest) = read_varint(rest)?;
        if digest.len() as u64 != len {
            return Err(CryptoError::InvalidMultihash(format!(
                "declared {len} digest bytes, found {}",
                digest.len()
            )));
        }
        Ok(Self {
            code,
            digest: digest.to_vec(),
        })
    }

    /// The 32-byte digest of a sha2-256 multihash (what Koinos signs for an id).
    pub fn sha256_digest_of(bytes: &[u8]) -> Result<[u8; 32], CryptoError> {
        let hash = Self::from_bytes(bytes)?;
        if hash.code != code::SHA2_256 {
            return Err(CryptoError::InvalidMultihash(format!(
                "expected sha2-256 (0x12), found code {:#x}",
                hash.code
            )));
        }
        hash.digest
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidMultihash("sha2-256 digest must be 32 bytes".into()))
    }
}

/// Unsigned LEB128, as multihash uses.
pub fn write_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one unsigned LEB128 value, returning it and the remaining bytes.
pub fn read_varint(bytes: &[u8]) -> Result<(u64, &[u8]), CryptoError> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, &bytes[i + 1..]));
        }
    }
    Err(CryptoError::InvalidMultihash(
        "truncated or overlong varint".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_multihash_has_koinos_prefix() {
        let hash = sha256_multihash(b"");
        assert_eq!(&hash[..2], &[0x12, 0x20]);
        assert_eq!(
            hex::encode(&hash[2..]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Multihash::sha256_digest_of(&hash).unwrap(), sha256(b""));
    }

    #[test]
    fn multi_byte_codes_round_trip() {
        let hash = Multihash {
            code: code::RIPEMD_160,
            digest: vec![7; 20],
        };
        let bytes = hash.to_bytes();
        assert_eq!(&bytes[..3], &[0xd3, 0x20, 20]);
        assert_eq!(Multihash::from_bytes(&bytes).unwrap(), hash);
    }

    #[test]
    fn malformed_multihashes_are_rejected() {
        assert!(Multihash::from_bytes(&[0x12, 0x20, 1, 2]).is_err());
        assert!(Multihash::from_bytes(&[0x92]).is_err());
        assert!(Multihash::from_bytes(&[]).is_err());
        let other = Multihash {
            code: code::SHA1,
            digest: vec![0; 20],
        };
        assert!(Multihash::sha256_digest_of(&other.to_bytes()).is_err());
    }
}
