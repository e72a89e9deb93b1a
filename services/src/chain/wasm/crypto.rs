//! The cryptography system calls' work: hash costs, public key recovery, merkle roots, VRF
//! proofs.

use koinos_protocol::chain::{
    Dsa, VerifyMerkleRootArguments, VerifyMerkleRootResult, VerifyVrfProofArguments,
    VerifyVrfProofResult,
};
use koinos_protocol::crypto::signature::recover_public_key;
use koinos_protocol::crypto::{CryptoError, PublicKey, multihash, vrf};

use super::super::context::ApplyContext;
use super::super::error::{ChainError, ChainResult, code};
use super::thunks::ok;

/// The `verify_merkle_root` system call as native code makes it (its entry, then its work), for
/// a root of `root` over `leaves` leaves.
pub fn charge_verify_merkle_root(
    ctx: &mut ApplyContext<'_>,
    root: &[u8],
    leaves: usize,
) -> ChainResult<()> {
    ctx.charge("verify_merkle_root")?;
    charge_merkle_work(ctx, root, leaves).map(drop)
}

/// What the official thunk charges before it builds the tree: deserializing the root and every
/// leaf, then each inner node's hash; returns the parsed root.
fn charge_merkle_work(
    ctx: &mut ApplyContext<'_>,
    root: &[u8],
    leaves: usize,
) -> ChainResult<multihash::Multihash> {
    let params = ctx.params;
    let per_multihash = params.compute_cost("deserialize_multihash_base")?
        + root.len() as u64 * params.compute_cost("deserialize_multihash_per_byte")?;
    ctx.use_compute((leaves as u64 + 1) * per_multihash)?;
    let root = multihash::Multihash::from_bytes(root)
        .map_err(|_| ChainError::new(code::UNKNOWN_HASH_CODE, "unknown hash code"))?;
    let (base, per_byte) = hash_cost_names(root.code)?;
    let node = params.compute_cost(base)?
        + 2 * root.digest.len() as u64 * params.compute_cost(per_byte)?;
    ctx.use_compute(hashes_per_leaves(leaves as u64) * node)?;
    Ok(root)
}

/// `verify_merkle_root`: whether the sha2-256 leaves hash to `root`, charged as the official
/// chain charges it (deserializing every multihash, then each inner node's hash).
pub(super) fn verify_merkle_root(
    ctx: &mut ApplyContext<'_>,
    args: VerifyMerkleRootArguments,
) -> ChainResult<Vec<u8>> {
    let root = charge_merkle_work(ctx, &args.root, args.hashes.len())?;
    if root.code != multihash::code::SHA2_256 {
        return Err(ChainError::new(
            code::UNKNOWN_HASH_CODE,
            "merkle roots other than sha2-256 are not supported by this chain yet",
        ));
    }
    let mut leaves = Vec::with_capacity(args.hashes.len());
    for hash in &args.hashes {
        let leaf = multihash::Multihash::from_bytes(hash)
            .ok()
            .filter(|m| m.code == root.code)
            .ok_or_else(|| {
                ChainError::new(
                    code::UNKNOWN_HASH_CODE,
                    "leaf and merkle root hash codes do not match",
                )
            })?;
        let digest = <[u8; 32]>::try_from(leaf.digest.as_slice()).map_err(|_| {
            ChainError::new(
                code::UNKNOWN_HASH_CODE,
                "leaf and merkle root hash sizes do not match",
            )
        })?;
        leaves.push(digest);
    }
    ok(VerifyMerkleRootResult {
        value: koinos_protocol::merkle::merkle_root(&leaves) == args.root,
    })
}

/// Inner nodes a merkle tree of `leaves` hashes, as the official chain counts them.
fn hashes_per_leaves(leaves: u64) -> u64 {
    if leaves <= 2 {
        return 1;
    }
    let even = leaves.div_ceil(2) * 2;
    if even.is_power_of_two() {
        return even - 1;
    }
    even / 2 + hashes_per_leaves(even / 2)
}

pub(super) fn hash_cost_names(code: u64) -> ChainResult<(&'static str, &'static str)> {
    use multihash::code as c;
    Ok(match code {
        c::SHA1 => ("sha1_base", "sha1_per_byte"),
        c::SHA2_256 => ("sha2_256_base", "sha2_256_per_byte"),
        c::SHA2_512 => ("sha2_512_base", "sha2_512_per_byte"),
        c::KECCAK_256 => ("keccak_256_base", "keccak_256_per_byte"),
        c::RIPEMD_160 => ("ripemd_160_base", "ripemd_160_per_byte"),
        _ => {
            return Err(ChainError::new(
                code::UNKNOWN_HASH_CODE,
                "unknown hash code",
            ));
        }
    })
}

/// `recover_public_key`: the key that signed the digest (a multihash), compressed or not.
pub(super) fn recover(
    dsa: i32,
    signature: &[u8],
    digest: &[u8],
    compressed: bool,
) -> ChainResult<Vec<u8>> {
    if dsa != Dsa::EcdsaSecp256k1 as i32 {
        return Err(ChainError::new(code::UNKNOWN_DSA, "unexpected dsa"));
    }
    if signature.len() != 65 {
        return Err(ChainError::new(
            code::INVALID_SIGNATURE,
            "unexpected signature length",
        ));
    }
    let digest = multihash::Multihash::from_bytes(digest)
        .ok()
        .and_then(|m| <[u8; 32]>::try_from(m.digest.as_slice()).ok())
        .ok_or_else(|| ChainError::new(code::INVALID_SIGNATURE, "public key is invalid"))?;
    let key = recover_public_key(&digest, signature).map_err(|e| {
        let message = match e {
            CryptoError::NonCanonicalSignature => "signature must be canonical",
            _ => "public key is invalid",
        };
        ChainError::new(code::INVALID_SIGNATURE, message)
    })?;
    Ok(if compressed {
        key.to_compressed().to_vec()
    } else {
        key.to_uncompressed().to_vec()
    })
}

/// `verify_vrf_proof`: whether `proof` proves `message` under `public_key` with the output
/// `hash`, as the official thunk decides it (koinos-crypto's `verify_random_proof`, i.e.
/// libsecp256k1-vrf's `secp256k1_vrf_verify`, its output as a sha2-256 multihash). Charged its
/// registry cost only. A proof that does not verify, of any length, is `false`; the errors are
/// the official conversions': an unknown dsa (-102), a public key that is not a compressed
/// point (1, koinos-crypto's `key_serialization_error`), a hash too short for its two varints.
pub(super) fn verify_vrf_proof(args: VerifyVrfProofArguments) -> ChainResult<Vec<u8>> {
    if args.r#type != Dsa::EcdsaSecp256k1 as i32 {
        return Err(ChainError::new(code::UNKNOWN_DSA, "unexpected dsa"));
    }
    // koinos-util reads a public key as its first 33 bytes, compressed; the rest is ignored.
    let key = args
        .public_key
        .get(..33)
        .filter(|key| matches!(key[0], 0x02 | 0x03))
        .and_then(|key| PublicKey::from_sec1_bytes(key).ok())
        .ok_or_else(|| {
            ChainError::new(
                code::REVERSION,
                "unknown error during public key deserialization",
            )
        })?;
    let expected = LenientMultihash::read(&args.hash)?;
    let value = vrf::verify(&key, &args.proof, &args.message)
        .is_some_and(|output| expected.is_sha256_of(&output));
    ok(VerifyVrfProofResult { value })
}

/// A multihash as koinos-util reads one from bytes: `varint(code) ‖ varint(size)`, then up to
/// `size` digest bytes (zero-padded when the bytes run out); anything after is ignored.
struct LenientMultihash<'a> {
    code: u64,
    size: u64,
    digest: &'a [u8],
}

impl<'a> LenientMultihash<'a> {
    /// Fails only where koinos-util's varint reader throws: the bytes end inside a varint
    /// (a `std::runtime_error` the official chain does not classify; a failure here).
    fn read(bytes: &'a [u8]) -> ChainResult<Self> {
        let (code, rest) = read_varint(bytes)?;
        let (size, rest) = read_varint(rest)?;
        let available = usize::try_from(size).map_or(rest.len(), |size| size.min(rest.len()));
        Ok(Self {
            code,
            size,
            digest: &rest[..available],
        })
    }

    fn is_sha256_of(&self, digest: &[u8; 32]) -> bool {
        self.code == multihash::code::SHA2_256
            && self.size == 32
            && digest.starts_with(self.digest)
            && digest[self.digest.len()..].iter().all(|b| *b == 0)
    }
}

/// One LEB128 varint, any number of continuation bytes (bits past 64 dropped).
fn read_varint(bytes: &[u8]) -> ChainResult<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate() {
        let bits = u64::from(byte & 0x7f);
        let shift = u32::try_from(7 * i).ok();
        value |= shift.and_then(|shift| bits.checked_shl(shift)).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Ok((value, &bytes[i + 1..]));
        }
    }
    Err(ChainError::new(code::FAILURE, "error reading from stream"))
}
