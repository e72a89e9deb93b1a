//! `verify_vrf_proof` made by a WebAssembly contract (user mode) through
//! `env.invoke_system_call`: koinos-crypto's official vector verifies, a forged proof is
//! `false`, and a public key that is not a compressed point ends the contract with the official
//! reversion.

mod fuzz_chain_support;

use fuzz_chain_support::wat_contracts::system_call_contract;
use fuzz_chain_support::{ChainFixture, RC_LIMIT};
use koinos_protocol::chain::{Dsa, VerifyVrfProofArguments, VerifyVrfProofResult};
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::pb::koinos::protocol::{Operation, UploadContractOperation, operation::Op};
use koinos_services::chain::builder;
use prost::Message;

/// koinos/koinos-crypto-cpp `tests/crypto_test.cpp`, `vrf_tests`.
const PUBLIC_KEY: &str = "032c8c31fc9f990c6b55e3865a184a4ce50e09481f2eaeb3e60ec1cea13a6ae645";
const PROOF: &str = "031f4dbca087a1972d04a07a779b7df1caa99e0f5db2aa21f3aecc4f9e10e85d08\
     748c9fbe6b95d17359707bfb8e8ab0c9\
     3ba0c515333adcb8b64f372c535e115ccf66ebf5abe6fadb01b5efb37c0a0ec9";
const OUTPUT: &str = "612065e309e937ef46c2ef04d5886b9c6efd2991ac484ec64a9b014366fc5d81";

fn arguments() -> VerifyVrfProofArguments {
    VerifyVrfProofArguments {
        r#type: Dsa::EcdsaSecp256k1 as i32,
        public_key: hex::decode(PUBLIC_KEY).unwrap(),
        proof: hex::decode(PROOF).unwrap(),
        hash: [&[0x12, 0x20][..], &hex::decode(OUTPUT).unwrap()].concat(),
        message: b"sample".to_vec(),
    }
}

/// Uploads a contract calling `verify_vrf_proof` with `args`; its id.
fn deploy(fixture: &mut ChainFixture, seed: &str, args: &VerifyVrfProofArguments) -> Vec<u8> {
    let key = PrivateKey::from_seed(seed);
    let upload = Operation {
        op: Some(Op::UploadContract(UploadContractOperation {
            contract_id: key.address().to_vec(),
            bytecode: system_call_contract(505, &args.encode_to_vec()),
            ..Default::default()
        })),
    };
    let tx = builder::transaction(
        fixture.chain.chain_id(),
        &key,
        fixture.next_nonce(&key),
        RC_LIMIT,
        vec![upload],
    );
    let block = fixture.next_block(vec![tx]);
    let now = ChainFixture::now_for(&block);
    let committed = fixture.chain.submit_block(&block, now).unwrap().unwrap();
    assert!(!committed.receipt.transaction_receipts[0].reverted);
    key.address().to_vec()
}

#[test]
fn a_contract_verifies_the_official_vrf_vector() {
    let mut fixture = ChainFixture::new();
    let valid = deploy(&mut fixture, "vrf valid", &arguments());
    let mut forged = arguments();
    forged.proof[60] ^= 1;
    let forged = deploy(&mut fixture, "vrf forged", &forged);
    let mut bad_key = arguments();
    bad_key.public_key = [&[0x02][..], &[0x00; 32]].concat();
    let bad_key = deploy(&mut fixture, "vrf bad key", &bad_key);

    let value = |contract: &[u8]| {
        let (result, _) = fixture.chain.read_contract(contract, 0, &[]).unwrap();
        VerifyVrfProofResult::decode(result.as_slice())
            .unwrap()
            .value
    };
    assert!(value(&valid));
    assert!(!value(&forged));
    let error = fixture.chain.read_contract(&bad_key, 0, &[]).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (1, "unknown error during public key deserialization")
    );
}
