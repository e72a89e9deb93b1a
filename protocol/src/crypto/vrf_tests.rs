//! The official vectors: koinos/koinos-crypto-cpp `tests/crypto_test.cpp`, test case
//! `vrf_tests` (what libsecp256k1-vrf proves and verifies for koinos-crypto).

use super::*;

const SECRET: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const MESSAGE: &[u8] = b"sample";
/// `generate_random_proof("sample")` under `SECRET`.
const EXPECTED_PROOF: &str = "031f4dbca087a1972d04a07a779b7df1caa99e0f5db2aa21f3aecc4f9e10e85d08\
     748c9fbe6b95d17359707bfb8e8ab0c9\
     3ba0c515333adcb8b64f372c535e115ccf66ebf5abe6fadb01b5efb37c0a0ec9";
/// `SECRET`'s public key, and a second valid proof of "sample" under it (another nonce, the
/// same Γ) whose output the official test expects.
const PUBLIC_KEY: &str = "032c8c31fc9f990c6b55e3865a184a4ce50e09481f2eaeb3e60ec1cea13a6ae645";
const VERIFY_PROOF: &str = "031f4dbca087a1972d04a07a779b7df1caa99e0f5db2aa21f3aecc4f9e10e85d08\
     14faa89697b482daa377fb6b4a8b0191\
     a65d34a6d90a8a2461e5db9205d4cf0bb4b2c31b5ef6997a585a9f1a72517b6f";
const EXPECTED_HASH: &str = "612065e309e937ef46c2ef04d5886b9c6efd2991ac484ec64a9b014366fc5d81";

fn key() -> PrivateKey {
    PrivateKey::from_bytes(&hex::decode(SECRET).unwrap()).unwrap()
}

fn public_key() -> PublicKey {
    PublicKey::from_sec1_bytes(&hex::decode(PUBLIC_KEY).unwrap()).unwrap()
}

#[test]
fn prove_gives_the_official_proof_and_output() {
    let (proof, output) = prove(&key(), MESSAGE);
    assert_eq!(hex::encode(proof), EXPECTED_PROOF);
    assert_eq!(hex::encode(output), EXPECTED_HASH);
    assert_eq!(prove(&key(), MESSAGE), (proof, output), "deterministic");
    assert_eq!(hex::encode(key().public_key().to_compressed()), PUBLIC_KEY);
}

#[test]
fn official_proofs_verify_to_the_official_output() {
    for proof in [EXPECTED_PROOF, VERIFY_PROOF] {
        let proof = hex::decode(proof).unwrap();
        let output = verify(&public_key(), &proof, MESSAGE).expect("valid proof");
        assert_eq!(hex::encode(output), EXPECTED_HASH);
        assert_eq!(proof_to_hash(&proof), Some(output));
    }
}

#[test]
fn a_proof_with_any_byte_changed_does_not_verify() {
    let proof = hex::decode(EXPECTED_PROOF).unwrap();
    for i in 0..PROOF_LEN {
        // The official test's change (0x00 becomes 0x01, anything else 0x00), then all bits.
        let official = if proof[i] == 0 { 1 } else { 0 };
        for replacement in [official, proof[i] ^ 0xff] {
            let mut forged = proof.clone();
            forged[i] = replacement;
            assert_eq!(verify(&public_key(), &forged, MESSAGE), None, "byte {i}");
        }
    }
    assert!(verify(&public_key(), &proof, MESSAGE).is_some());
}

#[test]
fn proofs_of_other_lengths_do_not_verify() {
    let proof = hex::decode(VERIFY_PROOF).unwrap();
    // The official test's two: one byte short, one extra byte.
    assert_eq!(verify(&public_key(), &proof[..80], MESSAGE), None);
    assert_eq!(
        verify(&public_key(), &[&proof[..], &[0]].concat(), MESSAGE),
        None
    );
    for len in [0, 1, 33, 49, 200] {
        assert_eq!(verify(&public_key(), &vec![0x02; len], MESSAGE), None);
        assert_eq!(proof_to_hash(&vec![0x02; len]), None);
    }
}

#[test]
fn another_key_or_message_does_not_verify() {
    let proof = hex::decode(EXPECTED_PROOF).unwrap();
    let other = PrivateKey::from_seed("another key").public_key();
    assert_eq!(verify(&other, &proof, MESSAGE), None);
    assert_eq!(verify(&public_key(), &proof, b"samplf"), None);
    assert_eq!(verify(&public_key(), &proof, b""), None);
}

#[test]
fn degenerate_scalars_and_points_do_not_verify() {
    let proof = hex::decode(EXPECTED_PROOF).unwrap();
    let with = |range: std::ops::Range<usize>, byte: u8| {
        let mut forged = proof.clone();
        forged[range].fill(byte);
        verify(&public_key(), &forged, MESSAGE)
    };
    assert_eq!(with(33..49, 0x00), None, "zero challenge");
    assert_eq!(with(49..81, 0x00), None, "zero response");
    assert_eq!(with(49..81, 0xff), None, "response beyond the curve order");
    assert_eq!(with(0..1, 0x04), None, "Γ not compressed");
    assert_eq!(with(1..33, 0xff), None, "Γ's x beyond the field prime");
}

#[test]
fn proofs_verify_for_other_keys_and_messages() {
    // As the official test's other loops: ten provers, ten messages.
    for i in 0..10u8 {
        let key = PrivateKey::from_bytes(&crate::crypto::sha256(&[i])).unwrap();
        let (proof, output) = prove(&key, MESSAGE);
        assert_eq!(verify(&key.public_key(), &proof, MESSAGE), Some(output));
        let message = format!("message{i}");
        let (proof, output) = prove(&self::key(), message.as_bytes());
        assert_eq!(
            verify(&public_key(), &proof, message.as_bytes()),
            Some(output)
        );
    }
}
