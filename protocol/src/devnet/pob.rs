//! A proof-of-burn devnet (docs/protocol.md, "Proof of Burn devnet"): our pob contract
//! ([`POB_WASM`]) and a VHP token ([`VHP_WASM`]) installed at genesis as system contracts, the
//! `process_block_signature` system call dispatched to the pob contract, VHP balances and
//! registered VRF keys for the producers. What a producer computes for one time quantum
//! ([`vrf_payload`], [`difficulty_met`], [`sign_block`]) is here too, so that the producer and the
//! tests build exactly what the contract checks.
//!
//! [`genesis_entries`] returns, after the entries of [`super::genesis`]:
//! 1. for the pob and the VHP contract: bytecode (system space 2) and metadata (system space 3,
//!    `system = true`);
//! 2. VHP balances (the VHP contract's space [`super::BALANCES_SPACE`], key address) and supply;
//! 3. per producer, its `public_key_record{public_key, set_block_height = 0}` in the pob
//!    contract's registration space (system, zone = pob id, id [`REGISTRATION_SPACE`]);
//! 4. the VHP contract id, raw, in the pob contract's metadata space (id [`METADATA_SPACE`])
//!    under key [`VHP_CONTRACT_KEY`] (the official contract finds it through the name service,
//!    which our chain does not have), and the [`consensus_parameters`] under key
//!    [`CONSENSUS_PARAMS_KEY`];
//! 5. system space 1 (`system_call_dispatch`), key `101u32` big-endian
//!    (`process_block_signature`) → `system_call_target{system_call_bundle{pob id,
//!    0xe0adbeab}}`.
//!
//! The pob metadata (seed, difficulty) is not written: the contract starts from the chain id as
//! seed and [`INITIAL_DIFFICULTY`].

use prost::Message;
use ripemd::{Digest, Ripemd160};

use super::{INFO_SPACE, contract_space, entry, system_space, token_state_entries};
use crate::crypto::{ADDRESS_LEN, Address, CryptoError, PrivateKey, sha256, sha256_multihash, vrf};
use crate::pb::koinos::chain::{
    ContractMetadataObject, GenesisData, GenesisEntry, ObjectSpace, SystemCallId, SystemSpaceId,
};
use crate::pb::koinos::contracts::pob::{
    ConsensusParameters, PublicKeyRecord, SignatureData, VrfPayload,
};
use crate::pb::koinos::contracts::token::GetInfoResult;
use crate::pb::koinos::protocol::{
    Block, ContractCallBundle, SystemCallTarget, system_call_target,
};

/// Our pob contract (compat/contracts/src/pob), built by compat/contracts/build.sh, which
/// checks that this copy is what the pinned toolchain builds (protocol/contracts/README.md).
pub const POB_WASM: &[u8] = include_bytes!("../../contracts/pob.wasm");
/// The devnet's VHP: the KCS-4 token of `@koinosbox/contracts` named Virtual Hash Power / VHP.
pub const VHP_WASM: &[u8] = include_bytes!("../../contracts/vhp.wasm");

/// Entry points of the pob contract (sha256 of the method name, first 4 bytes).
pub const REGISTER_PUBLIC_KEY_ENTRY_POINT: u32 = 0x5319_2be1;
pub const GET_PUBLIC_KEY_ENTRY_POINT: u32 = 0x9663_4f68;
pub const GET_METADATA_ENTRY_POINT: u32 = 0xfcf7_a68f;
pub const GET_CONSENSUS_PARAMETERS_ENTRY_POINT: u32 = 0x5fd7_ac0f;
pub const UPDATE_CONSENSUS_PARAMETERS_ENTRY_POINT: u32 = 0x793e_7c30;
pub const PROCESS_BLOCK_SIGNATURE_ENTRY_POINT: u32 = 0xe0ad_beab;

/// The pob contract's object spaces (system spaces in its own zone, as the official one's).
pub const REGISTRATION_SPACE: u32 = 0;
pub const METADATA_SPACE: u32 = 1;
/// Key of the consensus parameters in the metadata space (the official contract's).
pub const CONSENSUS_PARAMS_KEY: &[u8] = &[1];
/// Key of the VHP contract id in the metadata space.
pub const VHP_CONTRACT_KEY: &[u8] = &[2];

/// The difficulty the contract starts with (as the official one: 2^47).
pub const INITIAL_DIFFICULTY: u128 = 1 << 47;
/// The time quantum: a block's timestamp is a multiple of it.
pub const QUANTUM_LENGTH_MS: u32 = 10;

/// The contract's default target block interval (the official contract's, mainnet's): what a
/// pob devnet aims at when nothing asks for another (the operator's devnets).
pub const DEFAULT_TARGET_BLOCK_INTERVAL_MS: u64 = 3000;

/// The consensus parameters of a devnet aiming at one block every `target_block_interval_ms`:
/// the official contract's defaults (2 % inflation, 50.1 % burn target, 10 ms quanta) otherwise.
pub fn consensus_parameters(target_block_interval_ms: u32) -> ConsensusParameters {
    ConsensusParameters {
        target_annual_inflation_rate: 19_802,
        target_burn_percent: 501_000,
        target_block_interval: target_block_interval_ms,
        quantum_length: QUANTUM_LENGTH_MS,
    }
}

/// The VHP with which one producer wins, at [`INITIAL_DIFFICULTY`], one quantum in
/// `interval_ms / QUANTUM_LENGTH_MS` on average: the chance per quantum is VHP / 2^47 (below 1).
/// The contract's difficulty adjustment then keeps the rate near the target.
pub fn vhp_for_interval(interval_ms: u64) -> u64 {
    let quanta = (interval_ms / u64::from(QUANTUM_LENGTH_MS)).max(1);
    ((INITIAL_DIFFICULTY / u128::from(quanta)) as u64).max(1)
}

/// VHP's name, symbol and decimals, as compat/contracts/src/vhp/Vhp.ts compiles them in.
pub fn vhp_info() -> GetInfoResult {
    GetInfoResult {
        name: "Virtual Hash Power".into(),
        symbol: "VHP".into(),
        decimals: 8,
    }
}

/// How a devnet's blocks are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consensus {
    /// The genesis key signs every block (the chain's default `process_block_signature`).
    #[default]
    Federated,
    /// Proof of burn: `process_block_signature` is our pob contract.
    Pob,
}

impl Consensus {
    /// The name `koinos-devnet init --consensus` and the producer's `algorithm` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Federated => "federated",
            Self::Pob => "pob",
        }
    }
}

impl std::str::FromStr for Consensus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "federated" => Ok(Self::Federated),
            "pob" => Ok(Self::Pob),
            other => Err(format!(
                "unknown consensus {other:?}: expected federated or pob"
            )),
        }
    }
}

/// A producer a pob genesis registers: its address (the block `signer`), the compressed public
/// key of its VRF (and block signing) key, and its VHP balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PobProducer {
    pub address: Vec<u8>,
    pub public_key: Vec<u8>,
    pub vhp: u64,
}

impl PobProducer {
    /// A producer that signs with `key` and holds `vhp`.
    pub fn from_key(key: &PrivateKey, vhp: u64) -> Self {
        Self {
            address: key.address().to_vec(),
            public_key: key.public_key().to_compressed().to_vec(),
            vhp,
        }
    }
}

/// An address-format id nobody holds a key for: `0x00 ‖ RIPEMD160(SHA256(tag ‖ genesis_key)) ‖
/// checksum`.
fn derived_id(tag: &[u8], genesis_key: &[u8]) -> Address {
    let mut preimage = tag.to_vec();
    preimage.extend_from_slice(genesis_key);
    let mut bytes = [0u8; ADDRESS_LEN];
    bytes[1..21].copy_from_slice(&Ripemd160::digest(sha256(&preimage)));
    let check = sha256(&sha256(&bytes[..21]));
    bytes[21..].copy_from_slice(&check[..4]);
    Address::from_bytes(&bytes).expect("version 0 with its own checksum")
}

/// The pob contract id of the devnet of `genesis_key`.
pub fn pob_contract_id(genesis_key: &[u8]) -> Address {
    derived_id(b"koinos-devnet:pob:", genesis_key)
}

/// The VHP contract id of the devnet of `genesis_key`.
pub fn vhp_contract_id(genesis_key: &[u8]) -> Address {
    derived_id(b"koinos-devnet:vhp:", genesis_key)
}

/// The contracts of the pob devnet of a genesis key, at ids derived from it
/// ([`pob_contract_id`], [`vhp_contract_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PobContracts {
    pub pob: Address,
    pub vhp: Address,
}

impl PobContracts {
    /// The contracts of the devnet whose genesis key is `genesis_key`.
    pub fn of(genesis_key: &[u8]) -> Self {
        Self {
            pob: pob_contract_id(genesis_key),
            vhp: vhp_contract_id(genesis_key),
        }
    }
}

/// Makes `genesis`, the devnet genesis ([`super::genesis`]) whose genesis key is `producer`'s
/// address, a proof-of-burn one: appends [`genesis_entries`] for the contracts of that key,
/// with `producer` registered and holding the VHP for one block per `block_interval_ms`
/// ([`vhp_for_interval`]), the contract's target. `koinos-devnet init --consensus pob` and the
/// operator's `consensus: pob` devnets both build their genesis with it.
pub fn make_pob_genesis(
    genesis: &mut GenesisData,
    producer: &PrivateKey,
    block_interval_ms: u64,
) -> PobContracts {
    let contracts = PobContracts::of(producer.address().as_bytes());
    genesis.entries.extend(genesis_entries(
        contracts.pob.as_bytes(),
        contracts.vhp.as_bytes(),
        &[PobProducer::from_key(
            producer,
            vhp_for_interval(block_interval_ms),
        )],
        u32::try_from(block_interval_ms).unwrap_or(u32::MAX),
    ));
    contracts
}

/// The pob contract's own system space `id`.
pub fn pob_space(pob_id: &[u8], id: u32) -> ObjectSpace {
    ObjectSpace {
        system: true,
        zone: pob_id.to_vec(),
        id,
    }
}

fn system_contract(id: &[u8], bytecode: &[u8]) -> [GenesisEntry; 2] {
    [
        entry(
            system_space(SystemSpaceId::ContractBytecode),
            id.to_vec(),
            bytecode.to_vec(),
        ),
        entry(
            system_space(SystemSpaceId::ContractMetadata),
            id.to_vec(),
            ContractMetadataObject {
                hash: sha256_multihash(bytecode),
                system: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    ]
}

/// The entries that turn a devnet genesis into a proof-of-burn one (module docs).
pub fn genesis_entries(
    pob_id: &[u8],
    vhp_id: &[u8],
    producers: &[PobProducer],
    target_block_interval_ms: u32,
) -> Vec<GenesisEntry> {
    let mut entries = Vec::new();
    entries.extend(system_contract(pob_id, POB_WASM));
    entries.extend(system_contract(vhp_id, VHP_WASM));
    let balances: Vec<(Vec<u8>, u64)> = producers
        .iter()
        .map(|p| (p.address.clone(), p.vhp))
        .collect();
    entries.extend(
        token_state_entries(vhp_id, &vhp_info(), &balances)
            .into_iter()
            // Compiled into the module, as KOIN's.
            .filter(|e| e.space != Some(contract_space(vhp_id, INFO_SPACE))),
    );
    for producer in producers {
        entries.push(entry(
            pob_space(pob_id, REGISTRATION_SPACE),
            producer.address.clone(),
            PublicKeyRecord {
                public_key: producer.public_key.clone(),
                set_block_height: 0,
            }
            .encode_to_vec(),
        ));
    }
    entries.push(entry(
        pob_space(pob_id, METADATA_SPACE),
        CONSENSUS_PARAMS_KEY.to_vec(),
        consensus_parameters(target_block_interval_ms).encode_to_vec(),
    ));
    entries.push(entry(
        pob_space(pob_id, METADATA_SPACE),
        VHP_CONTRACT_KEY.to_vec(),
        vhp_id.to_vec(),
    ));
    entries.push(entry(
        system_space(SystemSpaceId::SystemCallDispatch),
        (SystemCallId::ProcessBlockSignature as u32)
            .to_be_bytes()
            .to_vec(),
        SystemCallTarget {
            target: Some(system_call_target::Target::SystemCallBundle(
                ContractCallBundle {
                    contract_id: pob_id.to_vec(),
                    entry_point: PROCESS_BLOCK_SIGNATURE_ENTRY_POINT,
                },
            )),
        }
        .encode_to_vec(),
    ));
    entries
}

/// The serialized VRF input of the quantum starting at `block_time` under `seed`.
pub fn vrf_payload(seed: &[u8], block_time: u64) -> Vec<u8> {
    VrfPayload {
        seed: seed.to_vec(),
        block_time,
    }
    .encode_to_vec()
}

/// The contract's difficulty rule: the upper 128 bits of the VRF output (big-endian), divided
/// by the VHP balance, are below `u128::MAX / difficulty` (`difficulty`: the metadata's
/// big-endian bytes). False without VHP or with a difficulty of 0 or more than 16 bytes.
pub fn difficulty_met(vrf_output: &[u8; 32], vhp: u64, difficulty: &[u8]) -> bool {
    if vhp == 0 || difficulty.len() > 16 {
        return false;
    }
    let mut padded = [0u8; 16];
    padded[16 - difficulty.len()..].copy_from_slice(difficulty);
    let difficulty = u128::from_be_bytes(padded);
    if difficulty == 0 {
        return false;
    }
    let upper = u128::from_be_bytes(vrf_output[..16].try_into().expect("16 bytes"));
    upper / u128::from(vhp) < u128::MAX / difficulty
}

/// Finalizes `block` (merkle root, id) and sets its signature to the serialized
/// `signature_data{vrf_proof, vrf_hash, signature}`: `key`'s VRF proof over
/// [`vrf_payload`]`(seed, timestamp)`, its output as a sha2-256 multihash, and `key`'s
/// signature of the block id. Returns the VRF output (for [`difficulty_met`]).
pub fn sign_block(
    block: &mut Block,
    key: &PrivateKey,
    seed: &[u8],
) -> Result<[u8; 32], CryptoError> {
    crate::seal::finalize_block(block);
    let timestamp = block.header.as_ref().map_or(0, |h| h.timestamp);
    let (proof, output) = vrf::prove(key, &vrf_payload(seed, timestamp));
    block.signature = SignatureData {
        vrf_proof: proof.to_vec(),
        vrf_hash: [&[0x12, 0x20][..], &output].concat(),
        signature: key.sign_id(&block.id)?.to_vec(),
    }
    .encode_to_vec();
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devnet::BALANCES_SPACE;

    #[test]
    fn the_difficulty_rule_divides_the_upper_half_by_the_vhp() {
        let mut output = [0u8; 32];
        // upper = 2^120; difficulty 2^8 gives target (2^128 - 1) / 2^8 = 2^120 - 1 (floor).
        output[0] = 1;
        let difficulty = [1, 0];
        assert!(
            !difficulty_met(&output, 1, &difficulty),
            "2^120 is not below 2^120 - 1"
        );
        assert!(difficulty_met(&output, 2, &difficulty), "2^119 is");
        assert!(
            !difficulty_met(&output, 0, &difficulty),
            "no VHP never wins"
        );
        assert!(!difficulty_met(&output, 2, &[]), "difficulty 0");
        assert!(!difficulty_met(&output, 2, &[1; 17]), "more than 128 bits");
        // The lower half does not count.
        let mut low = [0xffu8; 32];
        low[..16].fill(0);
        assert!(difficulty_met(&low, 1, &[0xff; 16]));
    }

    #[test]
    fn the_devnet_vhp_sets_the_initial_block_rate() {
        // 1 s at 10 ms quanta: one quantum in 100 wins, VHP / 2^47 = 1 / 100.
        assert_eq!(vhp_for_interval(1000), (1u64 << 47) / 100);
        assert_eq!(vhp_for_interval(0), 1 << 47, "every quantum");
        assert_eq!(consensus_parameters(1000).target_block_interval, 1000);
    }

    #[test]
    fn consensus_names_round_trip() {
        assert_eq!(Consensus::default(), Consensus::Federated);
        for c in [Consensus::Federated, Consensus::Pob] {
            assert_eq!(c.as_str().parse::<Consensus>(), Ok(c));
        }
        assert!(
            "pow"
                .parse::<Consensus>()
                .unwrap_err()
                .contains("federated or pob")
        );
    }

    #[test]
    fn entry_points_are_the_method_names_hashes() {
        for (name, id) in [
            ("register_public_key", REGISTER_PUBLIC_KEY_ENTRY_POINT),
            ("get_public_key", GET_PUBLIC_KEY_ENTRY_POINT),
            ("get_metadata", GET_METADATA_ENTRY_POINT),
            (
                "get_consensus_parameters",
                GET_CONSENSUS_PARAMETERS_ENTRY_POINT,
            ),
            (
                "update_consensus_parameters",
                UPDATE_CONSENSUS_PARAMETERS_ENTRY_POINT,
            ),
            (
                "process_block_signature",
                PROCESS_BLOCK_SIGNATURE_ENTRY_POINT,
            ),
        ] {
            let hash = sha256(name.as_bytes());
            assert_eq!(
                u32::from_be_bytes(hash[..4].try_into().unwrap()),
                id,
                "{name}"
            );
        }
    }

    #[test]
    fn a_pob_genesis_is_the_devnet_genesis_and_the_pob_entries_of_its_key() {
        let key = PrivateKey::from_seed("pob producer");
        let producer = key.address();
        let base = super::super::genesis(
            producer.as_bytes(),
            super::super::token_contract_id(producer.as_bytes()).as_bytes(),
            super::super::DevnetToken::Wasm,
            &[(producer.to_vec(), 5)],
        );
        let mut genesis = base.clone();
        let contracts = make_pob_genesis(&mut genesis, &key, 2000);
        assert_eq!(contracts, PobContracts::of(producer.as_bytes()));
        assert_eq!(contracts.pob, pob_contract_id(producer.as_bytes()));
        assert_eq!(genesis.entries[..base.entries.len()], base.entries[..]);
        assert_eq!(
            genesis.entries[base.entries.len()..],
            genesis_entries(
                contracts.pob.as_bytes(),
                contracts.vhp.as_bytes(),
                &[PobProducer::from_key(&key, vhp_for_interval(2000))],
                2000,
            )[..]
        );
    }

    #[test]
    fn genesis_registers_the_producer_and_overrides_the_block_signature() {
        let key = PrivateKey::from_seed("pob producer");
        let pob = pob_contract_id(key.address().as_bytes());
        let vhp = vhp_contract_id(key.address().as_bytes());
        assert_ne!(pob, vhp);
        let entries = genesis_entries(
            pob.as_bytes(),
            vhp.as_bytes(),
            &[PobProducer::from_key(&key, 9)],
            3000,
        );
        let find = |space: ObjectSpace, k: &[u8]| {
            entries
                .iter()
                .find(|e| e.space.as_ref() == Some(&space) && e.key == k)
                .map(|e| e.value.clone())
        };
        let record = PublicKeyRecord::decode(
            find(
                pob_space(pob.as_bytes(), REGISTRATION_SPACE),
                key.address().as_bytes(),
            )
            .unwrap()
            .as_slice(),
        )
        .unwrap();
        assert_eq!(record.public_key, key.public_key().to_compressed());
        assert_eq!(
            find(pob_space(pob.as_bytes(), METADATA_SPACE), VHP_CONTRACT_KEY),
            Some(vhp.to_vec())
        );
        let target = SystemCallTarget::decode(
            find(
                system_space(SystemSpaceId::SystemCallDispatch),
                &101u32.to_be_bytes(),
            )
            .unwrap()
            .as_slice(),
        )
        .unwrap();
        assert_eq!(
            target.target,
            Some(system_call_target::Target::SystemCallBundle(
                ContractCallBundle {
                    contract_id: pob.to_vec(),
                    entry_point: PROCESS_BLOCK_SIGNATURE_ENTRY_POINT,
                }
            ))
        );
        assert_eq!(
            find(
                contract_space(vhp.as_bytes(), BALANCES_SPACE),
                key.address().as_bytes()
            ),
            Some(super::super::u64_value(9))
        );
        assert_eq!(
            find(
                system_space(SystemSpaceId::ContractBytecode),
                pob.as_bytes()
            ),
            Some(POB_WASM.to_vec())
        );
    }

    #[test]
    fn a_signed_block_carries_a_proof_the_vrf_verifies() {
        let key = PrivateKey::from_seed("pob producer");
        let mut block = Block {
            header: Some(crate::pb::koinos::protocol::BlockHeader {
                height: 1,
                timestamp: 1_700_000_000_010,
                signer: key.address().to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let output = sign_block(&mut block, &key, b"seed").unwrap();
        let data = SignatureData::decode(block.signature.as_slice()).unwrap();
        assert_eq!(
            vrf::verify(
                &key.public_key(),
                &data.vrf_proof,
                &vrf_payload(b"seed", 1_700_000_000_010)
            ),
            Some(output)
        );
        assert_eq!(data.vrf_hash[2..], output);
        assert_eq!(
            crate::seal::block_signer(&Block {
                signature: data.signature,
                ..block
            })
            .unwrap(),
            key.address()
        );
    }
}
