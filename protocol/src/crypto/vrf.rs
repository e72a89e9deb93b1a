//! The verifiable random function of Koinos proof-of-burn: ECVRF-SECP256K1-SHA256-TAI as
//! libsecp256k1-vrf implements it (the library behind koinos-crypto's `generate_random_proof`
//! and `verify_random_proof`, hence the official chain's `verify_vrf_proof` system call).
//!
//! - suite byte `0xFE`; every hash is SHA-256; points are 33-byte compressed SEC1;
//! - hash to curve, try and increment: the first `ctr` = 0, 1, … for which
//!   `0x02 ‖ SHA256(0xFE ‖ 0x01 ‖ Y ‖ message ‖ ctr)` is a curve point;
//! - nonce: RFC 6979 (HMAC-SHA256 DRBG) over the secret key and `SHA256(point(H))`;
//! - challenge: the first 16 bytes of `SHA256(0xFE ‖ 0x02 ‖ H ‖ Γ ‖ U ‖ V)`;
//! - proof (81 bytes): `Γ (33) ‖ c (16) ‖ s (32)`, `s = c·x + k mod n`;
//! - output: `SHA256(0xFE ‖ 0x03 ‖ Γ)`, which Koinos carries as a sha2-256 multihash.

use k256::elliptic_curve::ff::PrimeField;
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::ops::Reduce;
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};

use super::{PrivateKey, PublicKey};

/// Length of a proof: compressed Γ, 16-byte challenge, 32-byte response.
pub const PROOF_LEN: usize = 81;

/// The suite byte libsecp256k1-vrf hashes in front of everything.
const SUITE: u8 = 0xFE;

/// A compressed point, all zeros for the point at infinity (as libsecp256k1-vrf writes it).
type PointBytes = [u8; 33];

/// The proof that `message` maps to the returned output under `key`, and that output (the
/// 32-byte digest of the sha2-256 multihash Koinos passes around). Deterministic.
pub fn prove(key: &PrivateKey, message: &[u8]) -> ([u8; PROOF_LEN], [u8; 32]) {
    let secret = key.to_bytes();
    let x = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(secret)))
        .expect("a private key is a scalar below the curve order");
    let y = key.public_key().to_compressed();
    // Every message reaches a curve point within 256 tries but with probability 2^-256.
    let h = hash_to_curve(&y, message).expect("hash to curve found no point in 256 tries");
    let h_string = point_bytes(&h);
    let k = nonce(&secret, &h_string);
    let gamma = h * x;
    let c_bytes = hash_points(&[&h, &gamma, &(ProjectivePoint::GENERATOR * k), &(h * k)]);
    let s = challenge_scalar(&c_bytes) * x + k;

    let mut proof = [0u8; PROOF_LEN];
    let gamma = point_bytes(&gamma);
    proof[..33].copy_from_slice(&gamma);
    proof[33..49].copy_from_slice(&c_bytes);
    proof[49..].copy_from_slice(&s.to_repr());
    (proof, output(&gamma))
}

/// The output of `proof` if it proves `message` under `public_key`; `None` for a proof of
/// another length, a Γ that is not a point, a zero challenge, a response of zero or beyond the
/// curve order, or a proof that does not check.
pub fn verify(public_key: &PublicKey, proof: &[u8], message: &[u8]) -> Option<[u8; 32]> {
    if proof.len() != PROOF_LEN {
        return None;
    }
    let y_string = public_key.to_compressed();
    let y = ProjectivePoint::from(parse_point(&y_string)?);
    let gamma = ProjectivePoint::from(parse_point(&proof[..33])?);
    let c_bytes: [u8; 16] = proof[33..49].try_into().ok()?;
    let c = challenge_scalar(&c_bytes);
    let s = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(
        <[u8; 32]>::try_from(&proof[49..]).ok()?,
    )))?;
    // libsecp256k1-vrf's scalar multiplication refuses a zero or overflowing scalar.
    if bool::from(c.is_zero()) || bool::from(s.is_zero()) {
        return None;
    }
    let h = hash_to_curve(&y_string, message)?;
    let u = ProjectivePoint::GENERATOR * s - y * c;
    let v = h * s - gamma * c;
    if hash_points(&[&h, &gamma, &u, &v]) != c_bytes {
        return None;
    }
    Some(output(&point_bytes(&gamma)))
}

/// The output a proof commits to, without checking the proof (`None` if Γ is not a point).
pub fn proof_to_hash(proof: &[u8]) -> Option<[u8; 32]> {
    if proof.len() != PROOF_LEN {
        return None;
    }
    let gamma = parse_point(&proof[..33])?;
    Some(output(&point_bytes(&gamma.into())))
}

fn output(gamma: &PointBytes) -> [u8; 32] {
    sha256_parts(&[&[SUITE, 0x03], gamma])
}

/// A point from its 33-byte compressed encoding (prefix 2 or 3, x below the field prime, on
/// the curve); nothing else is accepted.
fn parse_point(bytes: &[u8]) -> Option<AffinePoint> {
    if bytes.len() != 33 || !matches!(bytes[0], 0x02 | 0x03) {
        return None;
    }
    k256::PublicKey::from_sec1_bytes(bytes)
        .ok()
        .map(|key| *key.as_affine())
}

fn point_bytes(point: &ProjectivePoint) -> PointBytes {
    let mut out = [0u8; 33];
    // The identity encodes as 33 zero bytes, what libsecp256k1-vrf hashes for it.
    out.copy_from_slice(&point.to_affine().to_bytes());
    out
}

fn hash_to_curve(y: &PointBytes, message: &[u8]) -> Option<ProjectivePoint> {
    (0..=u8::MAX).find_map(|ctr| {
        let digest = sha256_parts(&[&[SUITE, 0x01], y, message, &[ctr]]);
        let mut candidate = [0x02; 33];
        candidate[1..].copy_from_slice(&digest);
        parse_point(&candidate).map(ProjectivePoint::from)
    })
}

fn hash_points(points: &[&ProjectivePoint; 4]) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update([SUITE, 0x02]);
    for point in points {
        hasher.update(point_bytes(point));
    }
    let digest = hasher.finalize();
    let mut c = [0u8; 16];
    c.copy_from_slice(&digest[..16]);
    c
}

/// The 16-byte challenge as a scalar (big-endian, high bytes zero).
fn challenge_scalar(c: &[u8; 16]) -> Scalar {
    let mut wide = [0u8; 32];
    wide[16..].copy_from_slice(c);
    <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(wide))
}

/// libsecp256k1's `nonce_function_rfc6979` on `SHA256(h_string)`, retried until the nonce is
/// a non-zero scalar: the RFC 6979 §3.2 HMAC-SHA256 DRBG keyed with the secret key and the
/// message hash reduced modulo the curve order, without extra data.
fn nonce(secret: &[u8; 32], h_string: &PointBytes) -> Scalar {
    let digest = FieldBytes::from(sha256_parts(&[h_string]));
    let message = <Scalar as Reduce<FieldBytes>>::reduce(&digest).to_repr();
    let mut key = [0u8; 32];
    let mut v = [1u8; 32];
    key = hmac_sha256(&key, &[&v, &[0x00], secret, &message]);
    v = hmac_sha256(&key, &[&v]);
    key = hmac_sha256(&key, &[&v, &[0x01], secret, &message]);
    v = hmac_sha256(&key, &[&v]);
    loop {
        v = hmac_sha256(&key, &[&v]);
        let candidate = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(v)));
        if let Some(k) = candidate.filter(|k| !bool::from(k.is_zero())) {
            return k;
        }
        key = hmac_sha256(&key, &[&v, &[0x00]]);
        v = hmac_sha256(&key, &[&v]);
    }
}

/// HMAC-SHA256 (RFC 2104) with a 32-byte key over the concatenated `parts`.
fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut pad = [0u8; 64];
    pad[..32].copy_from_slice(key);
    let inner_pad: Vec<u8> = pad.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = pad.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = Sha256::new();
    inner.update(&inner_pad);
    for part in parts {
        inner.update(part);
    }
    let inner = inner.finalize();
    sha256_parts(&[&outer_pad, &inner])
}

fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[cfg(test)]
#[path = "vrf_tests.rs"]
mod tests;
