//! The public Koinos networks the operator knows (`spec.network.mainnet`, `.harbinger`): what
//! joining one takes besides the services, all data. Every value is the official one, from the
//! `koinos/koinos` repository (its `config-example/` and `harbinger/config-example/` config and
//! genesis files, and the image tags of its compose env files); the user can override each
//! (`services.<svc>.image`, `services.p2p.seeds`, `genesisConfigMapRef`).

use std::fmt;

use super::profile::ServiceKind;

/// A network the operator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Mainnet,
    Harbinger,
}

/// Everything a preset brings.
#[derive(Debug)]
pub struct PresetData {
    /// Field name under `spec.network`.
    pub spec_name: &'static str,
    /// The official `genesis_data.json`, byte for byte.
    pub genesis_json: &'static [u8],
    /// The network's chain id (the sha256 multihash of its genesis data) as Koinos JSON
    /// renders it (URL-safe base64), as the network publishes it.
    pub chain_id: &'static str,
    /// `fork-algorithm` of chain, mempool and account_history (official config: `global`).
    pub fork_algorithm: &'static str,
    /// `block_producer.algorithm`.
    pub producer_algorithm: &'static str,
    /// The official seed nodes (`p2p.peer`).
    pub seeds: &'static [&'static str],
    /// The image of each service the koinos-services image cannot run on this network yet.
    pub official_images: &'static [(ServiceKind, &'static str)],
}

/// Official images for the public networks: tags of the `koinos/koinos` compose env files,
/// except the chain: v1.5.2 is the release that replays mainnet's history from genesis without
/// a state merkle mismatch (koinos-chain v1.5.2 release notes).
///
/// Ours cannot run these yet: our chain executes no WASM contracts (the public networks' system
/// contracts are WASM), our block producer only implements `federated` (they use `pob`), and our
/// p2p has only met peers of its own (the official node's peer RPC library, go-libp2p-gorpc,
/// could not be built here to test against). Our grpc gateway relays any network's calls, so it
/// runs ours.
const OFFICIAL_IMAGES: &[(ServiceKind, &str)] = &[
    (ServiceKind::Chain, "docker.io/koinos/koinos-chain:v1.5.2"),
    (
        ServiceKind::BlockProducer,
        "docker.io/koinos/koinos-block-producer:v1.3.0",
    ),
    (ServiceKind::P2p, "docker.io/koinos/koinos-p2p:v1.3.0"),
];

static MAINNET: PresetData = PresetData {
    spec_name: "mainnet",
    genesis_json: include_bytes!("../../networks/mainnet/genesis_data.json"),
    chain_id: "EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA==",
    fork_algorithm: "pob",
    producer_algorithm: "pob",
    seeds: &[
        "/dns4/seed.koinosblocks.com/tcp/8888/p2p/QmUNURuZxSu5wLnmBNJdwGtwjLmV5JxGhu4uNSAS8ZNcze",
        "/dns4/seed.koinosfoundation.org/tcp/8888/p2p/QmaxwRsB5ppx9B8QzsB7VXuxn9kfpPNStcKw8uDmrw8Toi",
        "/dns4/seed-east.burnkoin.com/tcp/8888/p2p/QmYAC9nxqgVt2p8NvmxNFsoMpQS7c4zEBmsZndEBTRHNu4",
        "/ip4/37.27.7.221/tcp/11394/p2p/QmY8NBHwoVrxBvrjS3wQoeTmWG4UUKMxmYHss7QYRXktrs",
        "/ip4/46.62.245.240/tcp/8888/p2p/QmWmxqE6WhcMWZEKwqUAbu87Qgm6JroZLdM4Xmxouu1Mmi",
    ],
    official_images: OFFICIAL_IMAGES,
};

static HARBINGER: PresetData = PresetData {
    spec_name: "harbinger",
    genesis_json: include_bytes!("../../networks/harbinger/genesis_data.json"),
    chain_id: "EiBncD4pKRIQWco_WRqo5Q-xnXR7JuO3PtZv983mKdKHSQ==",
    fork_algorithm: "pob",
    producer_algorithm: "pob",
    seeds: &[
        "/dns4/harbinger-seed.koinos.io/tcp/8888/p2p/QmcGiTpSm6YrmYo3rWoqrCPez2aJY4VdraBQsGsZKwFRuG",
    ],
    official_images: OFFICIAL_IMAGES,
};

impl Preset {
    pub const ALL: [Preset; 2] = [Self::Mainnet, Self::Harbinger];

    pub fn data(self) -> &'static PresetData {
        match self {
            Self::Mainnet => &MAINNET,
            Self::Harbinger => &HARBINGER,
        }
    }

    /// The image `kind` runs on this network unless the user names one.
    pub fn official_image(self, kind: ServiceKind) -> Option<&'static str> {
        self.data()
            .official_images
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, image)| *image)
    }

    /// The genesis as text (the official files are UTF-8 JSON).
    pub fn genesis_text(self) -> &'static str {
        std::str::from_utf8(self.data().genesis_json).expect("the official genesis is UTF-8")
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.data().spec_name)
    }
}

#[cfg(test)]
mod tests {
    use koinos_protocol::genesis::{chain_id, genesis_from_json};
    use koinos_protocol::json::BytesType;

    use super::*;

    #[test]
    fn mainnet_genesis_is_the_official_file() {
        // The official file, byte for byte (koinos/koinos config-example/genesis_data.json).
        let data = MAINNET.genesis_json;
        assert_eq!(data.len(), 582_092);
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data)),
            "ad3eadc626576f397d8ce4fc9cc43b96fc200e0489e4ed34bcaa3587415f9079"
        );
    }

    #[test]
    fn harbinger_genesis_is_the_official_file() {
        // koinos/koinos harbinger/config-example/genesis_data.json (no final newline).
        let data = HARBINGER.genesis_json;
        assert_eq!(data.len(), 17_789);
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data)),
            "300f54e105dcdd1d9dfd7ac7349f56808276672c9e11e35a447325ab32111cfb"
        );
    }

    #[test]
    fn each_genesis_hashes_to_its_published_chain_id() {
        for preset in Preset::ALL {
            let genesis = genesis_from_json(preset.genesis_text()).unwrap();
            assert_eq!(
                BytesType::Base64.encode(&chain_id(&genesis)),
                preset.data().chain_id,
                "{preset}"
            );
        }
        assert_eq!(
            MAINNET.chain_id,
            "EiBZK_GGVP0H_fXVAM3j6EAuz3-B-l3ejxRSewi7qIBfSA=="
        );
    }

    #[test]
    fn official_images_are_pinned_and_seeds_are_p2p_multiaddrs() {
        for preset in Preset::ALL {
            for (kind, image) in preset.data().official_images {
                assert!(
                    image.starts_with("docker.io/koinos/koinos-") && image.contains(":v"),
                    "{preset} {kind}: {image}"
                );
            }
            assert!(!preset.data().seeds.is_empty());
            for seed in preset.data().seeds {
                assert!(seed.starts_with('/') && seed.contains("/p2p/Qm"), "{seed}");
            }
        }
        assert_eq!(
            Preset::Mainnet.official_image(ServiceKind::BlockStore),
            None
        );
    }
}
