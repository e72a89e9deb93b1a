//! Devnet: a genesis ConfigMap and a block producer key Secret, both derived from a key the
//! apply step generates once (or reads back from the existing Secret): the builders stay pure.
//!
//! The genesis is [`koinos_protocol::devnet::genesis`] (what `koinos-devnet init` writes too):
//! the producer's address is the genesis key, and KOIN (`spec.network.devnet.token`: the
//! WebAssembly KCS-4 contract by default, or the chain's native token) lives at
//! [`koinos_protocol::devnet::token_contract_id`] of that address with one initial balance,
//! [`DEFAULT_INITIAL_BALANCE`] (100 000 000 KOIN of 8 decimals) held by the producer address,
//! so the producer key's holder can fund accounts from the first block.
//!
//! With `consensus: pob` the genesis is made a proof-of-burn one by
//! [`koinos_protocol::devnet::pob::make_pob_genesis`], as `koinos-devnet init --consensus pob`
//! does: the pob contract and VHP at ids derived from the producer address, the producer
//! registered and holding the VHP for one block every
//! [`DEFAULT_TARGET_BLOCK_INTERVAL_MS`] (the contract's target).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use koinos_protocol::chain::GenesisData;
use koinos_protocol::crypto::PrivateKey;
use koinos_protocol::devnet::pob::{
    DEFAULT_TARGET_BLOCK_INTERVAL_MS, PobContracts, make_pob_genesis,
};
use koinos_protocol::devnet::{DEFAULT_INITIAL_BALANCE, DevnetToken, genesis, token_contract_id};
use koinos_protocol::genesis::genesis_to_json;

use super::config::GENESIS_FILE;
use super::meta::{LABEL_GENERATED, object_meta};
use crate::model::ValidatedCluster;
use crate::model::cluster::DevnetConsensus;
use crate::model::naming::{
    PRODUCER_KEY_SECRET_KEY, genesis_config_map_name, producer_key_secret_name,
};

/// Genesis ConfigMap key holding the token contract id (base58), for clients.
pub const TOKEN_CONTRACT_ID_KEY: &str = "token-contract-id";
/// Genesis ConfigMap key holding the token's implementation (`wasm` or `native`).
pub const TOKEN_KEY: &str = "token";
/// Genesis ConfigMap key holding how blocks are signed (`federated` or `pob`).
pub const CONSENSUS_KEY: &str = "consensus";
/// Genesis ConfigMap keys holding a pob devnet's pob and VHP contract ids (base58).
pub const POB_CONTRACT_ID_KEY: &str = "pob-contract-id";
pub const VHP_CONTRACT_ID_KEY: &str = "vhp-contract-id";
/// Producer key Secret key holding the producer's address (base58), for convenience.
pub const PRODUCER_ADDRESS_KEY: &str = "address";

/// The genesis data of the devnet produced by `key`, with `token` as KOIN and blocks signed by
/// `consensus`.
pub fn devnet_genesis(
    key: &PrivateKey,
    token: DevnetToken,
    consensus: DevnetConsensus,
) -> GenesisData {
    let producer = key.address();
    let mut genesis_data = genesis(
        producer.as_bytes(),
        token_contract_id(producer.as_bytes()).as_bytes(),
        token,
        &[(producer.to_vec(), DEFAULT_INITIAL_BALANCE)],
    );
    if consensus == DevnetConsensus::Pob {
        make_pob_genesis(&mut genesis_data, key, DEFAULT_TARGET_BLOCK_INTERVAL_MS);
    }
    genesis_data
}

/// The devnet genesis ConfigMap (immutable: the chain id must never change): the chain's
/// `genesis_data.json` (standard protobuf JSON), the token contract id and its kind, the
/// consensus and, for pob, the pob and VHP contract ids.
pub fn build_devnet_genesis_config_map(
    vc: &ValidatedCluster,
    key: &PrivateKey,
    token_kind: DevnetToken,
    consensus: DevnetConsensus,
) -> ConfigMap {
    let mut metadata = object_meta(vc, genesis_config_map_name(vc), "genesis");
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_GENERATED.into(), "true".into());
    let token = token_contract_id(key.address().as_bytes());
    let mut data = BTreeMap::from([
        (
            GENESIS_FILE.to_string(),
            genesis_to_json(&devnet_genesis(key, token_kind, consensus)),
        ),
        (TOKEN_CONTRACT_ID_KEY.to_string(), token.to_string()),
        (TOKEN_KEY.to_string(), token_kind.as_str().to_string()),
        (CONSENSUS_KEY.to_string(), consensus.as_str().to_string()),
    ]);
    if consensus == DevnetConsensus::Pob {
        let contracts = PobContracts::of(key.address().as_bytes());
        data.insert(POB_CONTRACT_ID_KEY.into(), contracts.pob.to_string());
        data.insert(VHP_CONTRACT_ID_KEY.into(), contracts.vhp.to_string());
    }
    ConfigMap {
        metadata,
        data: Some(data),
        immutable: Some(true),
        ..Default::default()
    }
}

/// The devnet producer key Secret: the WIF, and the address for convenience.
pub fn build_producer_key_secret(vc: &ValidatedCluster, key: &PrivateKey) -> Secret {
    let mut metadata = object_meta(vc, producer_key_secret_name(&vc.name), "block-producer");
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(LABEL_GENERATED.into(), "true".into());
    Secret {
        metadata,
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (
                PRODUCER_KEY_SECRET_KEY.to_string(),
                ByteString(key.to_wif().into_bytes()),
            ),
            (
                PRODUCER_ADDRESS_KEY.to_string(),
                ByteString(key.address().to_string().into_bytes()),
            ),
        ])),
        immutable: Some(true),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use koinos_protocol::devnet::pob;
    use koinos_protocol::devnet::{BALANCES_SPACE, INFO_SPACE, contract_space, token_info};
    use koinos_protocol::genesis::{chain_id, genesis_from_json, metadata_value};
    use koinos_protocol::pb::koinos::contracts::token::BalanceOfResult;
    use prost::Message;

    use super::*;
    use crate::model::Network;
    use crate::test_support::{DEVNET, generated, validated};

    fn key() -> PrivateKey {
        generated().producer_key.unwrap()
    }

    #[test]
    fn genesis_json_is_what_the_chain_loader_reads() {
        let key = key();
        for token_kind in [DevnetToken::Wasm, DevnetToken::Native] {
            let map = build_devnet_genesis_config_map(
                &validated(DEVNET),
                &key,
                token_kind,
                DevnetConsensus::Federated,
            );
            let data = map.data.unwrap();
            let parsed = genesis_from_json(&data[GENESIS_FILE]).unwrap();
            assert_eq!(
                parsed,
                devnet_genesis(&key, token_kind, DevnetConsensus::Federated)
            );
            assert_eq!(data[CONSENSUS_KEY], "federated");
            assert!(!data.contains_key(POB_CONTRACT_ID_KEY));
            assert_eq!(
                metadata_value(&parsed, "genesis_key"),
                Some(&key.address().as_bytes()[..])
            );
            let token = token_contract_id(key.address().as_bytes());
            assert_eq!(data[TOKEN_CONTRACT_ID_KEY], token.to_string());
            assert_eq!(data[TOKEN_KEY], token_kind.as_str());
            assert!(
                parsed
                    .entries
                    .iter()
                    .any(|e| e.key == token.as_bytes() && e.value == token_kind.bytecode()),
                "{token_kind:?} bytecode at the token id"
            );
        }
    }

    #[test]
    fn the_spec_chooses_the_token_and_wasm_is_the_default() {
        let network = |yaml: &str| {
            validated(&DEVNET.replace("network: {devnet: {}}", &format!("network: {{{yaml}}}")))
                .network
        };
        assert_eq!(
            network("devnet: {}"),
            Network::Devnet {
                token: DevnetToken::Wasm,
                consensus: DevnetConsensus::Federated,
            }
        );
        assert_eq!(
            network("devnet: {token: native}"),
            Network::Devnet {
                token: DevnetToken::Native,
                consensus: DevnetConsensus::Federated,
            }
        );
        assert_eq!(
            network("devnet: {consensus: pob, token: native}"),
            Network::Devnet {
                token: DevnetToken::Native,
                consensus: DevnetConsensus::Pob,
            }
        );
        let desired = super::super::build(&validated(DEVNET), &generated());
        let genesis = desired
            .config_maps
            .iter()
            .find(|c| c.data.as_ref().is_some_and(|d| d.contains_key(TOKEN_KEY)))
            .unwrap();
        assert_eq!(genesis.data.as_ref().unwrap()[TOKEN_KEY], "wasm");
        assert_eq!(genesis.data.as_ref().unwrap()[CONSENSUS_KEY], "federated");
    }

    #[test]
    fn a_pob_genesis_is_the_federated_one_made_pob_as_koinos_devnet_does() {
        let key = key();
        let vc = validated(&DEVNET.replace(
            "network: {devnet: {}}",
            "network: {devnet: {consensus: pob}}",
        ));
        for token_kind in [DevnetToken::Wasm, DevnetToken::Native] {
            let map = build_devnet_genesis_config_map(&vc, &key, token_kind, DevnetConsensus::Pob);
            let data = map.data.unwrap();
            let parsed = genesis_from_json(&data[GENESIS_FILE]).unwrap();
            // The very function `koinos-devnet init --consensus pob` calls, on the federated
            // genesis, with the contract's target interval.
            let mut expected = devnet_genesis(&key, token_kind, DevnetConsensus::Federated);
            let contracts = make_pob_genesis(&mut expected, &key, DEFAULT_TARGET_BLOCK_INTERVAL_MS);
            assert_eq!(parsed, expected);
            assert_eq!(data[CONSENSUS_KEY], "pob");
            assert_eq!(data[POB_CONTRACT_ID_KEY], contracts.pob.to_string());
            assert_eq!(data[VHP_CONTRACT_ID_KEY], contracts.vhp.to_string());
            assert_eq!(
                contracts,
                PobContracts::of(key.address().as_bytes()),
                "derived from the producer address"
            );
            // The producer is registered, with VHP for one block per 3 s.
            let registered = pob::pob_space(contracts.pob.as_bytes(), pob::REGISTRATION_SPACE);
            assert!(parsed.entries.iter().any(
                |e| e.space.as_ref() == Some(&registered) && e.key == key.address().as_bytes()
            ));
            let vhp = parsed
                .entries
                .iter()
                .find(|e| e.space == Some(contract_space(contracts.vhp.as_bytes(), BALANCES_SPACE)))
                .unwrap();
            assert_eq!(
                BalanceOfResult::decode(&*vhp.value).unwrap().value,
                pob::vhp_for_interval(3000)
            );
            assert_ne!(
                chain_id(&parsed),
                chain_id(&devnet_genesis(
                    &key,
                    token_kind,
                    DevnetConsensus::Federated
                ))
            );
        }
    }

    #[test]
    fn producer_holds_the_initial_supply() {
        let key = key();
        let genesis = devnet_genesis(&key, DevnetToken::Native, DevnetConsensus::Federated);
        let token = token_contract_id(key.address().as_bytes()).to_vec();
        let balances: Vec<_> = genesis
            .entries
            .iter()
            .filter(|e| e.space == Some(contract_space(&token, BALANCES_SPACE)))
            .map(|e| {
                (
                    e.key.clone(),
                    BalanceOfResult::decode(&*e.value).unwrap().value,
                )
            })
            .collect();
        assert_eq!(
            balances,
            [(key.address().to_vec(), DEFAULT_INITIAL_BALANCE)]
        );
        let info = genesis
            .entries
            .iter()
            .find(|e| e.space == Some(contract_space(&token, INFO_SPACE)))
            .unwrap();
        assert_eq!(info.value, token_info().encode_to_vec());
    }

    #[test]
    fn producer_key_secret_round_trips() {
        let vc = validated(DEVNET);
        let key = key();
        let secret = build_producer_key_secret(&vc, &key);
        let data = secret.data.as_ref().unwrap();
        let wif = std::str::from_utf8(&data[PRODUCER_KEY_SECRET_KEY].0).unwrap();
        assert_eq!(
            PrivateKey::from_wif(wif).unwrap().to_bytes(),
            key.to_bytes()
        );
        assert_eq!(
            data[PRODUCER_ADDRESS_KEY].0,
            b"1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"
        );
    }

    #[test]
    fn devnet_objects_snapshot() {
        let vc = validated(DEVNET);
        let key = key();
        // The native token keeps the snapshot readable: the WASM one is 80 KB of base64.
        insta::assert_yaml_snapshot!(
            "genesis_config_map",
            build_devnet_genesis_config_map(
                &vc,
                &key,
                DevnetToken::Native,
                DevnetConsensus::Federated
            )
        );
        let secret = build_producer_key_secret(&vc, &key);
        assert_eq!(secret.metadata.name.as_deref(), Some("devnet-producer-key"));
        assert_eq!(
            secret.metadata.labels.as_ref().unwrap()[LABEL_GENERATED],
            "true"
        );
        assert!(secret.metadata.owner_references.is_some());
        assert!(format!("{key:?}").contains("1D3kb3Hx5jhogUEKsHZy9gnhFogfK9fdRK"));
        assert!(
            !format!("{key:?}").contains(&key.to_wif()),
            "Debug never prints the key"
        );
    }
}
