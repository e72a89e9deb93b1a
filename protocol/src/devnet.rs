//! Devnet genesis: the entries a private network needs, with KOIN either as the WebAssembly
//! KCS-4 token contract (the default) or as our chain's native token. Pure (no randomness): the
//! same inputs always give the same genesis and chain id, so the operator's builders and
//! `koinos-devnet init` share it.
//!
//! [`genesis`] returns `genesis_data` with, in this order:
//! 1. metadata `genesis_key` → the 25-byte genesis (block producer) address;
//! 2. metadata `resource_limit_data` → [`resource_limits`] (the mainnet values);
//! 3. metadata `max_account_resources` → `{value: ACCOUNT_RC}` (each account's RC);
//! 4. metadata `block_hash_code` → varint 0x12 (sha2-256);
//! 5. the token at `token_contract_id`:
//!    - system space 2 (`contract_bytecode`), key contract id → [`DevnetToken::bytecode`]:
//!      [`KOIN_WASM`], or the [`NATIVE_TOKEN_BYTECODE`] marker;
//!    - system space 3 (`contract_metadata`), key contract id → `contract_metadata_object{hash =
//!      multihash(sha256(bytecode)), system = true}` (a system contract, as mainnet's koin is);
//!    - native token only: contract space `{system: false, zone: contract id, id: INFO_SPACE}`
//!      key `""` → [`DevnetToken::info`] (the WASM token's info is compiled into it);
//!    - one entry per initial balance (space [`BALANCES_SPACE`], key owner address), then the
//!      total supply (space [`SUPPLY_SPACE`], key `""`); each value a `{uint64 value = 1}`.
//!      Both tokens keep balances and supply in these spaces and keys, so the same entries
//!      fund either.
//!
//! A genesis that carries bytecode is an ordinary genesis to any Koinos chain: it writes these
//! objects before block 1, so the WASM devnet needs no upload transaction and no key for the
//! contract id.
//!
//! Write it with [`crate::genesis::genesis_to_json`] as `genesis_data.json`.

pub mod pob;

use prost::Message;
use ripemd::{Digest, Ripemd160};

use crate::crypto::{ADDRESS_LEN, Address, sha256, sha256_multihash};
use crate::genesis::metadata_entry;
use crate::pb::koinos::chain::{
    ContractMetadataObject, GenesisData, GenesisEntry, MaxAccountResources, ObjectSpace,
    ResourceLimitData, SystemSpaceId,
};
use crate::pb::koinos::contracts::token::{BalanceOfResult, GetInfoResult};

/// Bytecode marking a contract id as the native KCS-4 token (the chain runs it natively).
pub const NATIVE_TOKEN_BYTECODE: &[u8] = b"koinos-native:kcs4-token:v1";

/// The devnet's KOIN as WebAssembly: the KCS-4 token of `@koinosbox/contracts` named Koin,
/// built from `compat/contracts/src/koin` by `compat/contracts/build.sh`, which checks that this
/// copy is what the pinned toolchain builds (protocol/contracts/README.md).
pub const KOIN_WASM: &[u8] = include_bytes!("../contracts/koin.wasm");

/// Which implementation holds a devnet's KOIN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DevnetToken {
    /// [`KOIN_WASM`], run by the chain's WebAssembly VM as any Koinos chain runs a contract.
    #[default]
    Wasm,
    /// The chain's native Rust KCS-4 token: about 25 times the transfer rate of the WASM one,
    /// but only our chain can run it (an official chain sees an invalid module).
    Native,
}

impl DevnetToken {
    /// The bytecode stored at the token's contract id.
    pub fn bytecode(self) -> &'static [u8] {
        match self {
            Self::Wasm => KOIN_WASM,
            Self::Native => NATIVE_TOKEN_BYTECODE,
        }
    }

    /// What the token's `get_info` returns.
    pub fn info(self) -> GetInfoResult {
        match self {
            // The names compat/contracts/src/koin/Koin.ts compiles in.
            Self::Wasm => GetInfoResult {
                name: "Koin".into(),
                symbol: "KOIN".into(),
                decimals: 8,
            },
            Self::Native => token_info(),
        }
    }

    /// The name `koinos-devnet init --token` and the operator's `devnet.token` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wasm => "wasm",
            Self::Native => "native",
        }
    }
}

impl std::str::FromStr for DevnetToken {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "wasm" => Ok(Self::Wasm),
            "native" => Ok(Self::Native),
            other => Err(format!(
                "unknown devnet token {other:?}: expected wasm or native"
            )),
        }
    }
}

/// The token's own object spaces (zone = contract id).
pub const SUPPLY_SPACE: u32 = 0;
pub const BALANCES_SPACE: u32 = 1;
pub const ALLOWANCES_SPACE: u32 = 2;
pub const INFO_SPACE: u32 = 3;

/// Each account's RC on a devnet (a fixed budget in our chain's RC model).
pub const ACCOUNT_RC: u64 = 1_000_000_000_000;

/// A sensible initial balance: 100 000 000 tokens of 8 decimals.
pub const DEFAULT_INITIAL_BALANCE: u64 = 100_000_000 * 100_000_000;

/// The resource limits a devnet starts with: mainnet's genesis values.
pub fn resource_limits() -> ResourceLimitData {
    ResourceLimitData {
        disk_storage_limit: 409_600,
        disk_storage_cost: 10,
        network_bandwidth_limit: 1_048_576,
        network_bandwidth_cost: 5,
        compute_bandwidth_limit: 100_000_000,
        compute_bandwidth_cost: 1,
    }
}

/// The native devnet token's name, symbol and decimals.
pub fn token_info() -> GetInfoResult {
    GetInfoResult {
        name: "Koinos Devnet".into(),
        symbol: "KOIN".into(),
        decimals: 8,
    }
}

/// A deterministic token contract id for the devnet of `genesis_key`: an address-format id
/// `0x00 ‖ RIPEMD160(SHA256("koinos-devnet:kcs4-token:" ‖ genesis_key)) ‖ checksum`. It is not
/// derived from a public key, so nobody holds a key for it.
pub fn token_contract_id(genesis_key: &[u8]) -> Address {
    let mut preimage = b"koinos-devnet:kcs4-token:".to_vec();
    preimage.extend_from_slice(genesis_key);
    let mut bytes = [0u8; ADDRESS_LEN];
    bytes[1..21].copy_from_slice(&Ripemd160::digest(sha256(&preimage)));
    let check = sha256(&sha256(&bytes[..21]));
    bytes[21..].copy_from_slice(&check[..4]);
    Address::from_bytes(&bytes).expect("version 0 with its own checksum")
}

/// A contract's own object space `id` (zone = the contract id).
pub fn contract_space(contract_id: &[u8], id: u32) -> ObjectSpace {
    ObjectSpace {
        system: false,
        zone: contract_id.to_vec(),
        id,
    }
}

fn system_space(id: SystemSpaceId) -> ObjectSpace {
    ObjectSpace {
        system: true,
        zone: Vec::new(),
        id: id as u32,
    }
}

fn entry(space: ObjectSpace, key: Vec<u8>, value: Vec<u8>) -> GenesisEntry {
    GenesisEntry {
        space: Some(space),
        key,
        value,
    }
}

/// A token amount as stored: `{uint64 value = 1}`.
pub fn u64_value(value: u64) -> Vec<u8> {
    BalanceOfResult { value }.encode_to_vec()
}

/// The token state entries for `contract_id`: info, balances and the supply they sum to.
pub fn token_state_entries(
    contract_id: &[u8],
    info: &GetInfoResult,
    balances: &[(Vec<u8>, u64)],
) -> Vec<GenesisEntry> {
    let mut entries = vec![entry(
        contract_space(contract_id, INFO_SPACE),
        Vec::new(),
        info.encode_to_vec(),
    )];
    let mut supply = 0u64;
    for (owner, value) in balances {
        supply = supply.saturating_add(*value);
        entries.push(entry(
            contract_space(contract_id, BALANCES_SPACE),
            owner.clone(),
            u64_value(*value),
        ));
    }
    entries.push(entry(
        contract_space(contract_id, SUPPLY_SPACE),
        Vec::new(),
        u64_value(supply),
    ));
    entries
}

/// Genesis data for a devnet signed by `genesis_key` (an address) with `token` as KOIN at
/// `token_contract_id` holding `initial_balances` (address, amount).
pub fn genesis(
    genesis_key: &[u8],
    token_contract_id: &[u8],
    token: DevnetToken,
    initial_balances: &[(Vec<u8>, u64)],
) -> GenesisData {
    let bytecode = token.bytecode();
    let mut entries = vec![
        metadata_entry("genesis_key", genesis_key.to_vec()),
        metadata_entry("resource_limit_data", resource_limits().encode_to_vec()),
        metadata_entry(
            "max_account_resources",
            MaxAccountResources { value: ACCOUNT_RC }.encode_to_vec(),
        ),
        metadata_entry("block_hash_code", vec![0x12]),
        entry(
            system_space(SystemSpaceId::ContractBytecode),
            token_contract_id.to_vec(),
            bytecode.to_vec(),
        ),
        entry(
            system_space(SystemSpaceId::ContractMetadata),
            token_contract_id.to_vec(),
            ContractMetadataObject {
                hash: sha256_multihash(bytecode),
                system: true,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    ];
    let mut state = token_state_entries(token_contract_id, &token.info(), initial_balances);
    if token == DevnetToken::Wasm {
        state.retain(|e| e.space != Some(contract_space(token_contract_id, INFO_SPACE)));
    }
    entries.extend(state);
    GenesisData { entries }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PrivateKey;
    use crate::genesis::{chain_id, genesis_from_json, genesis_to_json, metadata_value};

    fn key() -> PrivateKey {
        PrivateKey::from_bytes(&sha256(b"koinos-test-vector")).unwrap()
    }

    fn devnet_with(token_kind: DevnetToken, balance: u64) -> GenesisData {
        let producer = key().address();
        let token = token_contract_id(producer.as_bytes());
        genesis(
            producer.as_bytes(),
            token.as_bytes(),
            token_kind,
            &[(producer.to_vec(), balance)],
        )
    }

    fn devnet(balance: u64) -> GenesisData {
        devnet_with(DevnetToken::default(), balance)
    }

    fn find<'a>(genesis: &'a GenesisData, space: &ObjectSpace, key: &[u8]) -> Option<&'a [u8]> {
        genesis
            .entries
            .iter()
            .find(|e| e.space.as_ref() == Some(space) && e.key == key)
            .map(|e| e.value.as_slice())
    }

    #[test]
    fn chain_id_is_stable_for_a_fixed_key() {
        let id = chain_id(&devnet(DEFAULT_INITIAL_BALANCE));
        assert_eq!(id, chain_id(&devnet(DEFAULT_INITIAL_BALANCE)));
        assert_eq!(&id[..2], &[0x12, 0x20], "a sha2-256 multihash");
        assert_ne!(
            id,
            chain_id(&devnet(1)),
            "balances are part of the chain id"
        );
        // Pinned so an accidental change of the layout or of the shipped KOIN (either would
        // fork every devnet) shows.
        assert_eq!(
            hex::encode(&id),
            "12207da3d6e38114cc1f3fde74ed2752e06217fb187681238a97318e85929aef2e22"
        );
        assert_eq!(
            hex::encode(chain_id(&devnet_with(
                DevnetToken::Native,
                DEFAULT_INITIAL_BALANCE
            ))),
            "1220c8e504a8d992d9407490ac7476bdf698610a79fe2a4a1b6715b595db31da6a18"
        );
    }

    #[test]
    fn the_default_token_is_the_shipped_wasm_module() {
        assert_eq!(DevnetToken::default(), DevnetToken::Wasm);
        assert_eq!(&KOIN_WASM[..4], b"\0asm", "a WebAssembly module");
        for kind in [DevnetToken::Wasm, DevnetToken::Native] {
            assert_eq!(kind.as_str().parse::<DevnetToken>(), Ok(kind));
        }
        assert!(
            "evm"
                .parse::<DevnetToken>()
                .unwrap_err()
                .contains("wasm or native")
        );
    }

    #[test]
    fn metadata_entries_come_first() {
        let genesis = devnet(5);
        let producer = key().address();
        assert_eq!(
            metadata_value(&genesis, "genesis_key"),
            Some(&producer.as_bytes()[..])
        );
        assert_eq!(
            metadata_value(&genesis, "resource_limit_data"),
            Some(resource_limits().encode_to_vec().as_slice())
        );
        assert_eq!(
            metadata_value(&genesis, "max_account_resources"),
            Some(
                MaxAccountResources { value: ACCOUNT_RC }
                    .encode_to_vec()
                    .as_slice()
            )
        );
        assert_eq!(
            metadata_value(&genesis, "block_hash_code"),
            Some(&[0x12][..])
        );
        assert!(
            genesis.entries[..4]
                .iter()
                .all(|e| e.space.as_ref().unwrap().system)
        );
    }

    #[test]
    fn token_entries_are_present() {
        for kind in [DevnetToken::Wasm, DevnetToken::Native] {
            token_entries_are_present_for(kind);
        }
    }

    fn token_entries_are_present_for(kind: DevnetToken) {
        let genesis = devnet_with(kind, 7);
        let producer = key().address();
        let token = token_contract_id(producer.as_bytes()).to_vec();
        let bytecode = system_space(SystemSpaceId::ContractBytecode);
        assert_eq!(find(&genesis, &bytecode, &token), Some(kind.bytecode()));
        let metadata = ContractMetadataObject::decode(
            find(
                &genesis,
                &system_space(SystemSpaceId::ContractMetadata),
                &token,
            )
            .unwrap(),
        )
        .unwrap();
        assert!(metadata.system);
        assert_eq!(metadata.hash, sha256_multihash(kind.bytecode()));
        let info = find(&genesis, &contract_space(&token, INFO_SPACE), b"");
        match kind {
            DevnetToken::Native => {
                assert_eq!(GetInfoResult::decode(info.unwrap()).unwrap(), token_info())
            }
            // Compiled into the module; a state object would be dead weight in every node.
            DevnetToken::Wasm => assert_eq!(info, None),
        }
        let balance = |owner: &[u8]| {
            find(&genesis, &contract_space(&token, BALANCES_SPACE), owner)
                .map(|v| BalanceOfResult::decode(v).unwrap().value)
        };
        assert_eq!(balance(producer.as_bytes()), Some(7));
        assert_eq!(balance(token_contract_id(b"other").as_bytes()), None);
        let supply = find(&genesis, &contract_space(&token, SUPPLY_SPACE), b"").unwrap();
        assert_eq!(BalanceOfResult::decode(supply).unwrap().value, 7);
    }

    #[test]
    fn supply_sums_every_balance() {
        let balances = [(b"alice".to_vec(), 3), (b"bob".to_vec(), 4)];
        let entries = token_state_entries(b"tok", &token_info(), &balances);
        assert_eq!(entries.len(), 4);
        let last = entries.last().unwrap();
        assert_eq!(last.space, Some(contract_space(b"tok", SUPPLY_SPACE)));
        assert_eq!(last.value, u64_value(7));
    }

    #[test]
    fn token_contract_id_is_a_valid_address_per_genesis_key() {
        let a = token_contract_id(b"producer a");
        assert_eq!(a, token_contract_id(b"producer a"));
        assert_ne!(a, token_contract_id(b"producer b"));
        assert_eq!(Address::from_bytes(a.as_bytes()).unwrap(), a);
        assert_ne!(a, key().address());
    }

    #[test]
    fn json_round_trips() {
        let genesis = devnet(DEFAULT_INITIAL_BALANCE);
        let parsed = genesis_from_json(&genesis_to_json(&genesis)).unwrap();
        assert_eq!(parsed, genesis);
        assert_eq!(chain_id(&parsed), chain_id(&genesis));
    }
}
