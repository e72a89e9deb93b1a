//! Devnet tooling (`koinos-devnet`): write a private network (genesis with a new genesis key
//! and KOIN, keys, `config.yml`) with [`init`], then run the eight services of a complete
//! producing node as processes with [`launcher::Node`]. KOIN is the WebAssembly KCS-4 token
//! unless the spec asks for the chain's native one ([`DevnetToken`]).
//!
//! Layout written under the base directory:
//! - `config.yml`: `global` (AMQP URL, metrics on an ephemeral port so several processes fit
//!   on one host), `block_producer` (`gossip-production: false`, interval) and `jsonrpc`
//!   (`listen`);
//! - `chain/genesis_data.json`: [`crate::chain::devnet::genesis`] for the genesis key, the token
//!   (kind and contract id) and the initial balances;
//! - `block_producer/private.key` (WIF of the genesis key: federated blocks must be signed by
//!   it) and `public.key`;
//! - `keys/funded.wif`: an account holding the initial token balance;
//! - with `consensus: pob` ([`Consensus::Pob`]): the genesis also installs our pob contract and
//!   VHP, dispatches `process_block_signature` to pob, registers the producer's key and gives it
//!   the VHP for one block per `block_interval_ms` ([`koinos_protocol::devnet::pob`]); the chain
//!   uses the `pob` fork choice and the producer the `pob` algorithm;
//! - `devnet.json`: [`DevnetInfo`], what a client needs (chain id, addresses, token, URLs).

pub mod http_client;
pub mod launcher;
pub mod runner;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde::{Deserialize, Serialize};

use crate::block_producer::ProducerKey;
use crate::chain::devnet::genesis;
pub use koinos_protocol::devnet::DevnetToken;
pub use koinos_protocol::devnet::pob::Consensus;
pub use koinos_protocol::devnet::pob::PobContracts;
use koinos_protocol::devnet::pob::make_pob_genesis;
use koinos_protocol::genesis::{chain_id, genesis_to_json};

/// What `koinos-devnet init` is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetSpec {
    /// AMQP URL every service uses.
    pub amqp: String,
    /// JSON-RPC listen address (`host:port`).
    pub listen: String,
    /// Milliseconds between blocks.
    pub block_interval_ms: u64,
    /// Token balance (in base units) of the funded account and of the genesis key each.
    pub initial_balance: u64,
    /// Which implementation holds KOIN.
    pub token: DevnetToken,
    /// How blocks are signed: by the genesis key, or by proof of burn.
    pub consensus: Consensus,
}

impl Default for DevnetSpec {
    fn default() -> Self {
        Self {
            amqp: "amqp://guest:guest@127.0.0.1:5672/".into(),
            listen: "127.0.0.1:8080".into(),
            block_interval_ms: 1000,
            initial_balance: 100_000_000 * 100_000_000,
            token: DevnetToken::default(),
            consensus: Consensus::default(),
        }
    }
}

/// `devnet.json`: the facts a client or test needs about the devnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevnetInfo {
    /// Chain id as Koinos JSON writes it (base64url), what `chain.get_chain_id` returns.
    pub chain_id: String,
    /// Genesis key = block producer address (base58).
    pub producer_address: String,
    /// An account funded at genesis (base58) and its WIF.
    pub funded_account_address: String,
    pub funded_account_wif: String,
    /// KOIN, a KCS-4 token: `wasm` or `native` ([`DevnetToken`]), its base58 contract id and
    /// its info.
    pub token: String,
    pub token_contract_id: String,
    pub token_name: String,
    pub token_symbol: String,
    pub token_decimals: u32,
    pub initial_balance: String,
    /// `http://<listen>/`.
    pub rpc_url: String,
    pub amqp: String,
    /// `federated` or `pob` ([`Consensus`]); absent in a devnet.json written before pob.
    #[serde(default = "federated")]
    pub consensus: String,
    /// A pob devnet's pob and VHP contract ids (base58).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pob_contract_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhp_contract_id: Option<String>,
}

fn federated() -> String {
    Consensus::Federated.as_str().into()
}

impl DevnetInfo {
    pub fn read(basedir: &Path) -> anyhow::Result<Self> {
        let path = basedir.join("devnet.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!("{}: {e} (run `koinos-devnet init` first)", path.display())
        })?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// The `config.yml` of a devnet (`pob`: the contracts of a pob devnet).
pub fn render_config(spec: &DevnetSpec, pob: Option<&PobContracts>) -> String {
    let mut config = serde_json::json!({
        "global": {
            "amqp": spec.amqp,
            "log-level": "info",
            "metrics-address": "127.0.0.1:0",
        },
        "chain": {"fork-algorithm": "fifo"},
        "block_producer": {
            "algorithm": "federated",
            "gossip-production": false,
            "production-interval-ms": spec.block_interval_ms,
        },
        "jsonrpc": {"listen": spec.listen},
    });
    if let Some(contracts) = pob {
        // Every service with a fork choice (chain, mempool, account_history) reads `global`.
        config["global"]["fork-algorithm"] = "pob".into();
        config["chain"]["fork-algorithm"] = "pob".into();
        let producer = &mut config["block_producer"];
        producer["algorithm"] = "pob".into();
        producer["pob-contract-id"] = contracts.pob.to_string().into();
        producer["vhp-contract-id"] = contracts.vhp.to_string().into();
    }
    let yaml = serde_yaml::to_string(&config).expect("config serializes");
    format!("# Koinos devnet written by `koinos-devnet init`.\n{yaml}")
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Writes a new devnet under `basedir` (which must not hold one already).
pub fn init(basedir: &Path, spec: &DevnetSpec) -> anyhow::Result<DevnetInfo> {
    anyhow::ensure!(
        !basedir.join("devnet.json").exists(),
        "{} already holds a devnet; remove it or choose another --basedir",
        basedir.display()
    );
    std::fs::create_dir_all(basedir)?;
    let producer = ProducerKey::load_or_generate(&basedir.join("block_producer/private.key"))?;
    let funded = ProducerKey::generate();
    write_secret(&basedir.join("keys/funded.wif"), &funded.wif())?;
    // A contract id has the address format; this one is not a key anyone holds.
    let token = ProducerKey::generate();

    let balances = [
        (funded.address().to_vec(), spec.initial_balance),
        (producer.address().to_vec(), spec.initial_balance),
    ];
    let mut genesis_data = genesis(producer.address(), token.address(), spec.token, &balances);
    let pob_contracts = (spec.consensus == Consensus::Pob).then(|| {
        make_pob_genesis(
            &mut genesis_data,
            producer.private_key(),
            spec.block_interval_ms,
        )
    });
    let chain_dir = basedir.join("chain");
    std::fs::create_dir_all(&chain_dir)?;
    std::fs::write(
        chain_dir.join("genesis_data.json"),
        genesis_to_json(&genesis_data),
    )?;
    std::fs::write(
        basedir.join("config.yml"),
        render_config(spec, pob_contracts.as_ref()),
    )?;

    let info = spec.token.info();
    let base58 = |bytes: &[u8]| bs58::encode(bytes).into_string();
    let devnet = DevnetInfo {
        chain_id: URL_SAFE.encode(chain_id(&genesis_data)),
        producer_address: base58(producer.address()),
        funded_account_address: base58(funded.address()),
        funded_account_wif: funded.wif(),
        token: spec.token.as_str().into(),
        token_contract_id: base58(token.address()),
        token_name: info.name,
        token_symbol: info.symbol,
        token_decimals: info.decimals,
        initial_balance: spec.initial_balance.to_string(),
        rpc_url: format!("http://{}/", spec.listen),
        amqp: spec.amqp.clone(),
        consensus: spec.consensus.as_str().into(),
        pob_contract_id: pob_contracts.as_ref().map(|c| c.pob.to_string()),
        vhp_contract_id: pob_contracts.as_ref().map(|c| c.vhp.to_string()),
    };
    write_secret(
        &basedir.join("devnet.json"),
        &serde_json::to_string_pretty(&devnet)?,
    )?;
    Ok(devnet)
}

/// The directory holding the service binaries: the one this executable is in.
pub fn default_bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::genesis::load_genesis;
    use crate::runtime::config;
    use koinos_protocol::devnet::pob;

    #[test]
    fn init_writes_a_consistent_devnet() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DevnetSpec {
            amqp: "amqp://guest:guest@127.0.0.1:5672/devnet-test".into(),
            listen: "127.0.0.1:18080".into(),
            block_interval_ms: 250,
            initial_balance: 777,
            token: DevnetToken::Wasm,
            consensus: Consensus::Federated,
        };
        let info = init(dir.path(), &spec).unwrap();
        assert_eq!(info.consensus, "federated");
        assert_eq!(info.pob_contract_id, None);
        assert_eq!(DevnetInfo::read(dir.path()).unwrap(), info);

        let genesis_data = load_genesis(&dir.path().join("chain/genesis_data.json")).unwrap();
        assert_eq!(URL_SAFE.encode(chain_id(&genesis_data)), info.chain_id);
        let producer =
            ProducerKey::load_or_generate(&dir.path().join("block_producer/private.key")).unwrap();
        assert_eq!(
            bs58::encode(producer.address()).into_string(),
            info.producer_address
        );
        let wif = std::fs::read_to_string(dir.path().join("keys/funded.wif")).unwrap();
        assert_eq!(wif, info.funded_account_wif);
        assert_ne!(info.funded_account_address, info.producer_address);
        assert_eq!(
            (info.token.as_str(), info.token_name.as_str()),
            ("wasm", "Koin")
        );
        assert!(
            genesis_data
                .entries
                .iter()
                .any(|e| e.value == koinos_protocol::devnet::KOIN_WASM),
            "the WASM KOIN is in the genesis"
        );

        // Each service reads its options from the written config.yml.
        let basedir = dir.path().to_str().unwrap();
        let producer_settings = config::load::<crate::block_producer::ProducerArgs>(
            "block_producer",
            ["koinos-block-producer", "--basedir", basedir],
        )
        .unwrap();
        assert_eq!(producer_settings.amqp, spec.amqp);
        assert_eq!(producer_settings.args.gossip_production, Some(false));
        assert_eq!(producer_settings.args.production_interval_ms, Some(250));
        let jsonrpc = config::load::<crate::jsonrpc::service::JsonRpcArgs>(
            "jsonrpc",
            ["koinos-jsonrpc", "--basedir", basedir],
        )
        .unwrap();
        assert_eq!(jsonrpc.args.listen.as_deref(), Some("127.0.0.1:18080"));
        // The stores added to the node find the broker in `global`.
        let history = config::load::<crate::account_history::AccountHistoryArgs>(
            "account_history",
            ["koinos-account-history", "--basedir", basedir],
        )
        .unwrap();
        assert_eq!(history.amqp, spec.amqp);
        assert_eq!(history.args.fork_algorithm().unwrap(), Default::default());

        assert!(
            init(dir.path(), &spec).is_err(),
            "a second init must not overwrite keys"
        );
    }

    #[test]
    fn a_pob_devnet_installs_the_contracts_and_configures_pob() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DevnetSpec {
            block_interval_ms: 1000,
            consensus: Consensus::Pob,
            ..DevnetSpec::default()
        };
        let info = init(dir.path(), &spec).unwrap();
        assert_eq!(info.consensus, "pob");
        let producer = bs58::decode(&info.producer_address).into_vec().unwrap();
        assert_eq!(
            info.pob_contract_id,
            Some(bs58::encode(pob::pob_contract_id(&producer)).into_string())
        );
        let genesis_data = load_genesis(&dir.path().join("chain/genesis_data.json")).unwrap();
        for wasm in [pob::POB_WASM, pob::VHP_WASM] {
            assert!(genesis_data.entries.iter().any(|e| e.value == wasm));
        }
        let basedir = dir.path().to_str().unwrap();
        let producer_settings = config::load::<crate::block_producer::ProducerArgs>(
            "block_producer",
            ["koinos-block-producer", "--basedir", basedir],
        )
        .unwrap();
        assert_eq!(producer_settings.args.algorithm.as_deref(), Some("pob"));
        assert_eq!(producer_settings.args.pob_contract_id, info.pob_contract_id);
        assert_eq!(producer_settings.args.vhp_contract_id, info.vhp_contract_id);
        let chain = config::load::<crate::chain::app::ChainArgs>(
            "chain",
            ["koinos-chain", "--basedir", basedir],
        )
        .unwrap();
        assert_eq!(chain.args.fork_algorithm.as_deref(), Some("pob"));
        let history = config::load::<crate::account_history::AccountHistoryArgs>(
            "account_history",
            ["koinos-account-history", "--basedir", basedir],
        )
        .unwrap();
        assert_eq!(
            history.args.fork_algorithm().unwrap(),
            crate::chain::ForkAlgorithm::Pob
        );
    }
}
