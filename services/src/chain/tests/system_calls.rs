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
    assert_eq!(rc.value, f.chain.account_rc(f.alice.address().as_bytes()));
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
