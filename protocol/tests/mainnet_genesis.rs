//! The mainnet chain id (docs/protocol.md "Chain id and genesis") recomputed from the official genesis file.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use koinos_protocol::crypto::Address;
use koinos_protocol::genesis::{chain_id, genesis_from_json, genesis_to_json, metadata_value};

const MAINNET_GENESIS: &str = include_str!("data/mainnet-genesis_data.json");
const MAINNET_CHAIN_ID: &str = "EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==";

#[test]
fn mainnet_chain_id_matches_reference() {
    let genesis = genesis_from_json(MAINNET_GENESIS).unwrap();
    assert_eq!(genesis.entries.len(), 3761);
    assert_eq!(URL_SAFE.encode(chain_id(&genesis)), MAINNET_CHAIN_ID);
}

#[test]
fn mainnet_genesis_key_is_the_published_address() {
    let genesis = genesis_from_json(MAINNET_GENESIS).unwrap();
    let key = metadata_value(&genesis, "genesis_key").expect("genesis_key entry");
    let address = Address::from_bytes(key).unwrap();
    assert_eq!(address.to_string(), "19XRaiEsjNmDn4pd498hRVkJ4ymtRTWsVZ");
}

#[test]
fn genesis_json_round_trips_to_the_same_chain_id() {
    let genesis = genesis_from_json(MAINNET_GENESIS).unwrap();
    let rewritten = genesis_to_json(&genesis);
    // Standard base64 ('+' '/'), as the official file uses.
    assert!(rewritten.contains("EiC3nO+XbeKg4C8ugW7M7XdfmJKY4i3l91KoJWxosQPImA=="));
    let reread = genesis_from_json(&rewritten).unwrap();
    assert_eq!(reread, genesis);
    assert_eq!(chain_id(&reread), chain_id(&genesis));
}

#[test]
fn malformed_genesis_is_rejected() {
    assert!(genesis_from_json("{\"entries\": [{\"key\": \"not base64!\"}]}").is_err());
    assert!(genesis_from_json("{\"entries\": 5}").is_err());
    assert!(genesis_from_json("{} trailing").is_err());
}
