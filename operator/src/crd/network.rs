//! `spec.network`: which chain the cluster runs.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Exactly one of `mainnet` or `harbinger` (a public network whose genesis, fork algorithm,
/// seed peers and images ship with the operator), `genesis` (another network, from your
/// ConfigMap) or `devnet` (a private chain whose genesis and producer key the operator
/// generates once). Immutable once set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.genesis), has(self.devnet), has(self.mainnet), has(self.harbinger)].filter(x, x).size() == 1").message("spec.network: set exactly one of mainnet, harbinger, genesis or devnet"))]
pub struct NetworkSpec {
    /// The Koinos mainnet. The operator ships its official `genesis_data.json` (ConfigMap
    /// `<cluster>-genesis`), runs the `pob` fork algorithm, peers with the official seed nodes
    /// and runs the official image of each service ours cannot run on it yet (chain, p2p,
    /// blockProducer); `services.<svc>.image`, `services.p2p.seeds` and `genesisConfigMapRef`
    /// override them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mainnet: Option<PresetNetworkSpec>,
    /// Harbinger, the public Koinos testnet, set up like `mainnet` with its own genesis and
    /// seed nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harbinger: Option<PresetNetworkSpec>,
    /// Another network: its `genesis_data.json`, read from a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<GenesisSpec>,
    /// A private development network: the operator generates its genesis (ConfigMap
    /// `<cluster>-genesis`) and block producer key (Secret `<cluster>-producer-key`) once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devnet: Option<DevnetSpec>,
}

/// A network the operator knows (`mainnet`, `harbinger`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresetNetworkSpec {
    /// A ConfigMap of yours holding the genesis instead of the one the operator ships (which
    /// is then not created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_config_map_ref: Option<ConfigMapKeyRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenesisSpec {
    /// ConfigMap in the cluster's namespace holding `genesis_data.json`.
    pub config_map_ref: ConfigMapKeyRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// ConfigMap name.
    #[x_kube(validation = Rule::new("self != ''").message("the genesis ConfigMap name must not be empty"))]
    pub name: String,
    /// Key holding the genesis JSON.
    #[serde(default = "default_genesis_key")]
    pub key: String,
}

impl Default for ConfigMapKeyRef {
    fn default() -> Self {
        Self {
            name: String::new(),
            key: default_genesis_key(),
        }
    }
}

fn default_genesis_key() -> String {
    "genesis_data.json".into()
}

/// Devnet options; `{}` selects a devnet with the defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevnetSpec {
    /// KOIN's implementation, part of the genesis: `wasm` (the KCS-4 token contract, run by
    /// the chain's WebAssembly VM as on any Koinos chain) or `native` (our chain's Rust token:
    /// faster, but only our chain image runs it). Devnets created by operator versions before
    /// this field existed hold the native token: set `native` for them.
    #[serde(default)]
    pub token: DevnetTokenKind,
    /// How blocks are signed, part of the genesis: `federated` (the generated producer key, the
    /// genesis key, signs every block) or `pob` (proof of burn: the genesis installs the pob
    /// contract and a VHP token, registers the producer key and gives it the VHP for one block
    /// every 3 s, the contract's target; the producer runs the `pob` algorithm and every service
    /// the `pob` fork choice). The genesis ConfigMap's `consensus`, `pob-contract-id` and
    /// `vhp-contract-id` keys say which, for clients.
    #[serde(default)]
    pub consensus: DevnetConsensusKind,
}

/// `spec.network.devnet.consensus`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DevnetConsensusKind {
    #[default]
    Federated,
    Pob,
}

/// `spec.network.devnet.token`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DevnetTokenKind {
    #[default]
    Wasm,
    Native,
}

/// A key of a Secret in the cluster's namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key within the Secret.
    pub key: String,
}
