//! The genesis ConfigMap of a public network (`spec.network.mainnet`, `.harbinger`): the
//! official `genesis_data.json` the operator ships, byte for byte, and the network's chain id.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::meta::object_meta;
use crate::model::ValidatedCluster;
use crate::model::naming::{GENESIS_KEY, genesis_config_map_name};
use crate::model::network::Preset;

/// ConfigMap key holding the chain id (URL-safe base64, as wallets and explorers show it).
pub const CHAIN_ID_KEY: &str = "chain-id";

/// `<cluster>-genesis` of a preset network (immutable: a chain's genesis never changes).
pub fn build_preset_genesis_config_map(vc: &ValidatedCluster, preset: Preset) -> ConfigMap {
    ConfigMap {
        metadata: object_meta(vc, genesis_config_map_name(vc), "genesis"),
        data: Some(BTreeMap::from([
            (GENESIS_KEY.to_string(), preset.genesis_text().to_string()),
            (CHAIN_ID_KEY.to_string(), preset.data().chain_id.to_string()),
        ])),
        immutable: Some(true),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use koinos_protocol::genesis::{chain_id, genesis_from_json};
    use koinos_protocol::json::BytesType;

    use super::*;
    use crate::controller::build::{build, config};
    use crate::test_support::{HARBINGER, MAINNET, generated, validated};

    /// What the chain reads: the ConfigMap's genesis, as mounted.
    fn shipped_genesis(manifest: &str) -> (ConfigMap, String) {
        let vc = validated(manifest);
        let desired = build(&vc, &generated());
        let map = desired
            .config_maps
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(&genesis_config_map_name(&vc)))
            .expect("the preset's genesis ConfigMap is desired");
        let text = map.data.as_ref().unwrap()[GENESIS_KEY].clone();
        (map, text)
    }

    #[test]
    fn mainnet_genesis_is_the_official_file_and_chain_id() {
        let (map, text) = shipped_genesis(MAINNET);
        assert_eq!(
            text.as_bytes(),
            include_bytes!("../../../networks/mainnet/genesis_data.json")
        );
        let genesis = genesis_from_json(&text).unwrap();
        let id = BytesType::Base64.encode(&chain_id(&genesis));
        assert_eq!(id, "EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==");
        assert_eq!(map.data.as_ref().unwrap()[CHAIN_ID_KEY], id);
        assert_eq!(map.immutable, Some(true));
        assert!(map.metadata.owner_references.is_some());
        assert_eq!(config::GENESIS_FILE, GENESIS_KEY);
    }

    #[test]
    fn harbinger_genesis_is_the_official_file_and_chain_id() {
        let (map, text) = shipped_genesis(HARBINGER);
        assert_eq!(
            text.as_bytes(),
            include_bytes!("../../../networks/harbinger/genesis_data.json")
        );
        let id = BytesType::Base64.encode(&chain_id(&genesis_from_json(&text).unwrap()));
        assert_eq!(id, "EiBncD4pKRIQWco_WRqo5Q-xnXR7JuO3PtZv983mKdKHSQ==");
        assert_eq!(map.data.as_ref().unwrap()[CHAIN_ID_KEY], id);
    }

    #[test]
    fn a_user_genesis_config_map_replaces_the_shipped_one() {
        let manifest = MAINNET.replace(
            "mainnet: {}",
            "mainnet: {genesisConfigMapRef: {name: my-genesis}}",
        );
        let vc = validated(&manifest);
        let desired = build(&vc, &generated());
        assert!(
            desired
                .config_maps
                .iter()
                .all(|c| c.metadata.name.as_deref() != Some("mainnet-genesis")),
            "no shipped genesis when the user gives one"
        );
        let chain = desired
            .stateful_sets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some("mainnet-chain"))
            .unwrap();
        let volumes = chain
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .volumes
            .as_ref()
            .unwrap();
        let genesis = volumes.iter().find(|v| v.name == "genesis").unwrap();
        assert_eq!(genesis.config_map.as_ref().unwrap().name, "my-genesis");
    }
}
