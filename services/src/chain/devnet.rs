//! Devnet genesis: the entries a private network needs to run this chain with its native token.
//!
//! [`genesis`] returns `genesis_data` with, in this order:
//! 1. metadata `genesis_key` → the 25-byte genesis (block producer) address;
//! 2. metadata `resource_limit_data` → [`super::context::default_resource_limits`];
//! 3. metadata `max_account_resources` → `{value: DEFAULT_ACCOUNT_RC}` (each account's RC);
//! 4. metadata `block_hash_code` → varint 0x12 (sha2-256);
//! 5. the native token at `token_contract_id` (bytecode marker, contract metadata, info,
//!    balances, supply; layout in [`super::token`]).
//!
//! Write it with [`koinos_protocol::genesis::genesis_to_json`] to
//! `basedir/chain/genesis_data.json`.

use koinos_protocol::chain::{
    ContractMetadataObject, GenesisData, GenesisEntry, MaxAccountResources, ObjectSpace,
};
use koinos_protocol::crypto::sha256_multihash;
use koinos_protocol::genesis::metadata_entry;
use koinos_protocol::pb::koinos::contracts::token::GetInfoResult;
use prost::Message;

use super::context::{DEFAULT_ACCOUNT_RC, default_resource_limits};
use super::genesis::{space, system_space};
use super::state::split_state_key;
use super::token::{self, NATIVE_TOKEN_BYTECODE};

/// The devnet token's name, symbol and decimals.
pub fn token_info() -> GetInfoResult {
    GetInfoResult {
        name: "Koinos Devnet".into(),
        symbol: "KOIN".into(),
        decimals: 8,
    }
}

fn entry(space: ObjectSpace, key: Vec<u8>, value: Vec<u8>) -> GenesisEntry {
    GenesisEntry {
        space: Some(space),
        key,
        value,
    }
}

/// Genesis data for a devnet signed by `genesis_key` (an address) with the native KCS-4 token
/// at `token_contract_id` holding `initial_balances` (address, amount).
pub fn genesis(
    genesis_key: &[u8],
    token_contract_id: &[u8],
    initial_balances: &[(Vec<u8>, u64)],
) -> GenesisData {
    let mut entries = vec![
        metadata_entry("genesis_key", genesis_key.to_vec()),
        metadata_entry(
            "resource_limit_data",
            default_resource_limits().encode_to_vec(),
        ),
        metadata_entry(
            "max_account_resources",
            MaxAccountResources {
                value: DEFAULT_ACCOUNT_RC,
            }
            .encode_to_vec(),
        ),
        metadata_entry("block_hash_code", vec![0x12]),
        entry(
            system_space(space::CONTRACT_BYTECODE),
            token_contract_id.to_vec(),
            NATIVE_TOKEN_BYTECODE.to_vec(),
        ),
        entry(
            system_space(space::CONTRACT_METADATA),
            token_contract_id.to_vec(),
            ContractMetadataObject {
                hash: sha256_multihash(NATIVE_TOKEN_BYTECODE),
                system: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    ];
    for (state_key, value) in
        token::genesis_state(token_contract_id, &token_info(), initial_balances)
    {
        let (space, key) = split_state_key(&state_key).expect("token state keys are well formed");
        entries.push(entry(space, key, value));
    }
    GenesisData { entries }
}
