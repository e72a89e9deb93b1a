//! invoke_system_call: the supported subset by id and by name; the others fail.

use koinos_protocol::chain::HeadInfo;
use koinos_protocol::rpc::chain::{
    InvokeSystemCallRequest, invoke_system_call_request::SystemCall,
};

use super::*;
use crate::chain::error::code;
use crate::chain::system_call::invoke;

fn call(f: &Fixture, system_call: SystemCall, args: Vec<u8>) -> Result<Vec<u8>, ChainError> {
    let request = InvokeSystemCallRequest {
        system_call: Some(system_call),
        args,
        caller_data: None,
    };
    invoke(&f.chain, &request)
}

#[derive(Clone, PartialEq, prost::Message)]
struct HeadInfoResult {
    #[prost(message, optional, tag = "1")]
    value: Option<HeadInfo>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MetadataResult {
    #[prost(message, optional, tag = "1")]
    value: Option<koinos_protocol::chain::ContractMetadataObject>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct U64 {
    #[prost(uint64, tag = "1")]
    value: u64,
}

#[test]
fn head_info_rc_and_chain_id_by_name_and_id() {
    let mut f = Fixture::new();
    f.produce(vec![]);
    let bytes = call(&f, SystemCall::Name("get_head_info".into()), vec![]).unwrap();
    let head = HeadInfoResult::decode(bytes.as_slice())
        .unwrap()
        .value
        .unwrap();
    assert_eq!(head.head_topology.unwrap().height, 1);
    let account = BalanceOfArguments {
        owner: f.alice.address().to_vec(),
    }
    .encode_to_vec();
    let rc = U64::decode(call(&f, SystemCall::Id(201), account).unwrap().as_slice()).unwrap();
    assert_eq!(
        rc.value,
        f.chain.account_rc(f.alice.address().as_bytes()).unwrap()
    );
    let chain_id = call(&f, SystemCall::Name("get_chain_id".into()), vec![]).unwrap();
    assert_eq!(&chain_id[2..], f.chain.chain_id());
    let metadata = BalanceOfArguments {
        owner: f.token.clone(),
    }
    .encode_to_vec();
    let bytes = call(
        &f,
        SystemCall::Name("get_contract_metadata".into()),
        metadata,
    )
    .unwrap();
    let meta = MetadataResult::decode(bytes.as_slice()).unwrap();
    assert!(meta.value.unwrap().system);
}

#[test]
fn other_system_calls_run_as_a_contract_would() {
    use koinos_protocol::chain::{HashArguments, HashResult};
    let f = Fixture::new();
    let args = HashArguments {
        code: 0x12,
        obj: b"koinos".to_vec(),
        size: 0,
    };
    let bytes = call(&f, SystemCall::Name("hash".into()), args.encode_to_vec()).unwrap();
    assert_eq!(
        HashResult::decode(bytes.as_slice()).unwrap().value,
        koinos_protocol::crypto::sha256_multihash(b"koinos")
    );
    // verify_merkle_root over two sha2-256 leaves
    use koinos_protocol::chain::{VerifyMerkleRootArguments, VerifyMerkleRootResult};
    let leaves = [
        koinos_protocol::crypto::sha256(b"a"),
        koinos_protocol::crypto::sha256(b"b"),
    ];
    let multihash = |d: &[u8; 32]| [&[0x12, 0x20][..], d].concat();
    let root = koinos_protocol::merkle::merkle_root(&leaves);
    let verify = |root: Vec<u8>| {
        let args = VerifyMerkleRootArguments {
            root,
            hashes: leaves.iter().map(multihash).collect(),
        };
        let bytes = call(
            &f,
            SystemCall::Name("verify_merkle_root".into()),
            args.encode_to_vec(),
        )
        .unwrap();
        VerifyMerkleRootResult::decode(bytes.as_slice())
            .unwrap()
            .value
    };
    assert!(verify(root.clone()));
    assert!(!verify(multihash(&leaves[0])));
    // A read-only call cannot write.
    assert_eq!(
        code_of(call(&f, SystemCall::Name("put_object".into()), vec![])),
        code::READ_ONLY_CONTEXT
    );
}

#[test]
fn unknown_system_calls_fail_as_the_official_chain_answers() {
    let f = Fixture::new();
    let expected = [
        // Name-service calls without a name service installed: no such thunk.
        (
            SystemCall::Name("get_contract_address".into()),
            code::UNKNOWN_THUNK,
        ),
        (SystemCall::Id(99_999), code::UNKNOWN_THUNK),
        (SystemCall::Id(-1), code::UNKNOWN_THUNK),
        (SystemCall::Name("nope".into()), code::UNKNOWN_SYSTEM_CALL),
    ];
    for (system_call, expected) in expected {
        assert_eq!(code_of(call(&f, system_call, vec![])), expected);
    }
}

/// koinos-crypto's official VRF vector (`tests/crypto_test.cpp`, `vrf_tests`): the proof
/// `generate_random_proof("sample")` gives for the secret c9afa9d8…6721, its public key and
/// output.
const VRF_PUBLIC_KEY: &str = "032c8c31fc9f990c6b55e3865a184a4ce50e09481f2eaeb3e60ec1cea13a6ae645";
const VRF_PROOF: &str = "031f4dbca087a1972d04a07a779b7df1caa99e0f5db2aa21f3aecc4f9e10e85d08\
     748c9fbe6b95d17359707bfb8e8ab0c9\
     3ba0c515333adcb8b64f372c535e115ccf66ebf5abe6fadb01b5efb37c0a0ec9";
const VRF_OUTPUT: &str = "612065e309e937ef46c2ef04d5886b9c6efd2991ac484ec64a9b014366fc5d81";

fn vrf_arguments() -> koinos_protocol::chain::VerifyVrfProofArguments {
    koinos_protocol::chain::VerifyVrfProofArguments {
        r#type: koinos_protocol::chain::Dsa::EcdsaSecp256k1 as i32,
        public_key: hex::decode(VRF_PUBLIC_KEY).unwrap(),
        proof: hex::decode(VRF_PROOF).unwrap(),
        hash: [&[0x12, 0x20][..], &hex::decode(VRF_OUTPUT).unwrap()].concat(),
        message: b"sample".to_vec(),
    }
}

fn verify_vrf(
    f: &Fixture,
    args: koinos_protocol::chain::VerifyVrfProofArguments,
) -> Result<bool, ChainError> {
    let bytes = call(f, SystemCall::Id(505), args.encode_to_vec())?;
    Ok(
        koinos_protocol::chain::VerifyVrfProofResult::decode(bytes.as_slice())
            .unwrap()
            .value,
    )
}

#[test]
fn verify_vrf_proof_accepts_the_official_vector_and_nothing_forged() {
    let f = Fixture::new();
    assert_eq!(verify_vrf(&f, vrf_arguments()), Ok(true));
    let by_name = call(
        &f,
        SystemCall::Name("verify_vrf_proof".into()),
        vrf_arguments().encode_to_vec(),
    );
    assert_eq!(by_name, Ok(vec![0x08, 0x01]));
    // A proof made here for another message, checked against that message.
    let key = PrivateKey::from_seed("vrf");
    let (proof, output) = koinos_protocol::crypto::vrf::prove(&key, b"seed");
    let mut mine = vrf_arguments();
    mine.public_key = key.public_key().to_compressed().to_vec();
    mine.proof = proof.to_vec();
    mine.hash = [&[0x12, 0x20][..], &output].concat();
    mine.message = b"seed".to_vec();
    assert_eq!(verify_vrf(&f, mine), Ok(true));

    let forged: [fn(&mut koinos_protocol::chain::VerifyVrfProofArguments); 7] = [
        |a| a.proof[60] ^= 1,               // the response
        |a| a.proof[40] ^= 1,               // the challenge
        |a| a.proof.truncate(80),           // one byte short
        |a| a.proof.push(0),                // one byte long
        |a| a.message = b"samplf".to_vec(), // another message
        |a| a.hash[33] ^= 1,                // another output
        |a| a.hash[0] = 0x13,               // another hash code
    ];
    for (i, forge) in forged.iter().enumerate() {
        let mut args = vrf_arguments();
        forge(&mut args);
        assert_eq!(verify_vrf(&f, args), Ok(false), "forgery {i}");
    }
    // The official chain reads only the multihash and the key's first 33 bytes.
    let mut trailing = vrf_arguments();
    trailing.hash.push(7);
    trailing.public_key.push(7);
    assert_eq!(verify_vrf(&f, trailing), Ok(true));
}

#[test]
fn verify_vrf_proof_rejects_bad_keys_and_arguments_with_the_official_codes() {
    let f = Fixture::new();
    let bad_keys = [
        [&[0x02][..], &[0x00; 32]].concat(), // x = 0 is on no point
        [&[0x03][..], &[0xff; 32]].concat(), // x beyond the field prime
        vec![0x04; 65],                      // uncompressed
        hex::decode(VRF_PUBLIC_KEY).unwrap()[..32].to_vec(), // short
        Vec::new(),
    ];
    for key in bad_keys {
        let mut args = vrf_arguments();
        args.public_key = key;
        let error = verify_vrf(&f, args).unwrap_err();
        assert_eq!(error.code, code::REVERSION);
        assert_eq!(
            error.message,
            "unknown error during public key deserialization"
        );
    }
    let mut args = vrf_arguments();
    args.r#type = 1;
    assert_eq!(code_of(verify_vrf(&f, args)), code::UNKNOWN_DSA);
    let mut args = vrf_arguments();
    args.hash = vec![0x12];
    assert_eq!(code_of(verify_vrf(&f, args)), code::FAILURE);
}
