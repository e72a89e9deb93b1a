//! `spec.network`: which chain the cluster runs.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Exactly one of `genesis` (join an existing network) or `devnet` (a private chain whose genesis
/// and producer key the operator generates once). Immutable once set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.genesis) != has(self.devnet)").message("spec.network: set exactly one of genesis or devnet"))]
pub struct NetworkSpec {
    /// The network's `genesis_data.json`, read from a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<GenesisSpec>,
    /// A private development network: the operator generates its genesis (ConfigMap
    /// `<cluster>-genesis`) and block producer key (Secret `<cluster>-producer-key`) once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devnet: Option<DevnetSpec>,
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
    #[x_kube(validation = Rule::new("self != ''").message("spec.network.genesis.configMapRef.name must not be empty"))]
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

/// Devnet options (none yet: an empty object selects a devnet).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevnetSpec {}

/// A key of a Secret in the cluster's namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    pub name: String,
    /// Key within the Secret.
    pub key: String,
}
