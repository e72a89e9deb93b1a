//! The cryptography system calls' work: hash costs, public key recovery, merkle roots.

use koinos_protocol::chain::{Dsa, VerifyMerkleRootArguments, VerifyMerkleRootResult};
use koinos_protocol::crypto::signature::recover_public_key;
use koinos_protocol::crypto::{CryptoError, multihash};

use super::super::context::ApplyContext;
use super::super::error::{ChainError, ChainResult, code};
use super::thunks::ok;

/// `verify_merkle_root`: whether the sha2-256 leaves hash to `root`, charged as the official
/// chain charges it (deserializing every multihash, then each inner node's hash).
pub(super) fn verify_merkle_root(
    ctx: &mut ApplyContext<'_>,
    args: VerifyMerkleRootArguments,
) -> ChainResult<Vec<u8>> {
    let params = ctx.params;
    let per_multihash = params.compute_cost("deserialize_multihash_base")?
        + args.root.len() as u64 * params.compute_cost("deserialize_multihash_per_byte")?;
    ctx.use_compute((args.hashes.len() as u64 + 1) * per_multihash)?;
    let root = multihash::Multihash::from_bytes(&args.root)
        .map_err(|_| ChainError::new(code::UNKNOWN_HASH_CODE, "unknown hash code"))?;
    let (base, per_byte) = hash_cost_names(root.code)?;
    let node = params.compute_cost(base)?
        + 2 * root.digest.len() as u64 * params.compute_cost(per_byte)?;
    ctx.use_compute(hashes_per_leaves(args.hashes.len() as u64) * node)?;
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
