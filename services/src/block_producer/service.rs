//! The `koinos-block-producer` process: options (official names), key loading, start-up pings,
//! broadcast listeners and the production loop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use koinos_protocol::broadcast::{BlockAccepted, GossipStatus};
use koinos_protocol::pb::koinos::rpc::chain::{ChainRequest, ChainResponse};
use koinos_protocol::pb::koinos::rpc::mempool::{MempoolRequest, MempoolResponse};
use prost::Message;
use serde::{Deserialize, Serialize};

use super::fill::ResourceBounds;
use super::key::ProducerKey;
use super::pob::PobSettings;
use super::producer::{Algorithm, Producer, ProducerOptions};
use crate::mq::CallOptions;
use crate::mq::topology::service;
use crate::mq::topology::topic::{GOSSIP_STATUS, MEMPOOL_BLOCK_ACCEPTED};
use crate::mq::typed::TypedClient;
use crate::runtime::Service;

/// `block_producer` options; unset ones fall back to `global`, then the defaults.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ProducerArgs {
    /// Consensus algorithm: `federated` or `pob` [default: federated]
    #[arg(short = 'g', long)]
    pub algorithm: Option<String>,
    /// pob: the pob contract id (base58)
    #[arg(long)]
    pub pob_contract_id: Option<String>,
    /// pob: the VHP contract id (base58)
    #[arg(long)]
    pub vhp_contract_id: Option<String>,
    /// pob: the address to produce for (header signer; its VHP counts) [default: the key's address]
    #[arg(long)]
    pub producer: Option<String>,
    /// WIF private key file, generated when missing [default: <basedir>/block_producer/private.key]
    #[arg(short = 'p', long)]
    pub private_key_file: Option<PathBuf>,
    /// Pending transactions considered per block [default: 2000]
    #[arg(short = 'm', long)]
    pub max_inclusion_attempts: Option<u64>,
    /// Stop adding transactions once a resource reaches this percent of its limit [default: 75]
    #[arg(short = 'z', long)]
    pub resources_lower_bound: Option<u64>,
    /// Never let a resource exceed this percent of its limit [default: 90]
    #[arg(short = 'x', long)]
    pub resources_upper_bound: Option<u64>,
    /// Produce only while p2p gossip is enabled; false for a single-node devnet [default: true]
    #[arg(long)]
    pub gossip_production: Option<bool>,
    /// Proposal transaction ids (0x hex) to approve in every block (repeatable)
    #[arg(short = 'k', long)]
    pub approve_proposals: Option<Vec<String>>,
    /// Milliseconds between productions (the official federated producer uses 5000)
    /// [default: 5000]
    #[arg(long)]
    pub production_interval_ms: Option<u64>,
}

impl ProducerArgs {
    /// The production options and the key file path (relative paths are under `service_dir`).
    pub fn resolve(
        &self,
        service_dir: &std::path::Path,
    ) -> anyhow::Result<(ProducerOptions, PathBuf)> {
        let algorithm = match self.algorithm.as_deref().unwrap_or("federated") {
            "federated" => Algorithm::Federated,
            "pob" => {
                let id = |value: &Option<String>, field: &str| -> anyhow::Result<Vec<u8>> {
                    let text = value.as_deref().ok_or_else(|| {
                        anyhow::anyhow!("block_producer.{field} is required with algorithm pob")
                    })?;
                    bs58::decode(text)
                        .into_vec()
                        .map_err(|e| anyhow::anyhow!("block_producer.{field}: {e}"))
                };
                Algorithm::Pob(PobSettings {
                    pob_contract: id(&self.pob_contract_id, "pob-contract-id")?,
                    vhp_contract: id(&self.vhp_contract_id, "vhp-contract-id")?,
                    producer: match &self.producer {
                        Some(_) => Some(id(&self.producer, "producer")?),
                        None => None,
                    },
                })
            }
            other => anyhow::bail!(
                "block_producer.algorithm {other:?} is not supported (federated or pob)"
            ),
        };
        let defaults = ProducerOptions::default();
        let bounds = ResourceBounds {
            lower_percent: self
                .resources_lower_bound
                .unwrap_or(defaults.bounds.lower_percent),
            upper_percent: self
                .resources_upper_bound
                .unwrap_or(defaults.bounds.upper_percent),
        };
        anyhow::ensure!(
            bounds.lower_percent <= 100 && bounds.upper_percent <= 100,
            "resource bounds are percentages (0-100)"
        );
        let approved_proposals = self
            .approve_proposals
            .iter()
            .flatten()
            .map(|id| hex::decode(id.trim_start_matches("0x")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("approve-proposals: {e}"))?;
        let options = ProducerOptions {
            algorithm,
            interval: self
                .production_interval_ms
                .map_or(defaults.interval, Duration::from_millis),
            bounds,
            max_inclusion_attempts: self
                .max_inclusion_attempts
                .unwrap_or(defaults.max_inclusion_attempts),
            gossip_production: self.gossip_production.unwrap_or(defaults.gossip_production),
            approved_proposals,
        };
        let key_file = match &self.private_key_file {
            Some(path) if path.is_absolute() => path.clone(),
            Some(path) => service_dir.join(path),
            None => service_dir.join("private.key"),
        };
        Ok((options, key_file))
    }
}

/// Pings `service` until it answers (any reply), as the official services do at start-up.
async fn wait_for<Req, Resp>(client: &TypedClient<Req, Resp>, service: &str)
where
    Req: crate::mq::typed::RequestEnvelope,
    Resp: crate::mq::typed::ResponseEnvelope,
{
    loop {
        match client.ping().await {
            Ok(()) => return,
            Err(error) => tracing::info!(service, %error, "waiting for service"),
        }
    }
}

/// Runs the producer until shutdown.
pub async fn run(service: Service<ProducerArgs>) -> anyhow::Result<()> {
    let (options, key_file) = service
        .settings
        .args
        .resolve(&service.settings.service_dir())?;
    let key = ProducerKey::load_or_generate(&key_file)?;
    tracing::info!(address = %bs58::encode(key.address()).into_string(), "block producer key");
    let client = service.client();
    let ping = CallOptions::timeout(Duration::from_secs(1));
    wait_for(
        &TypedClient::<ChainRequest, ChainResponse>::new(&client, service::CHAIN, ping),
        service::CHAIN,
    )
    .await;
    wait_for(
        &TypedClient::<MempoolRequest, MempoolResponse>::new(&client, service::MEMPOOL, ping),
        service::MEMPOOL,
    )
    .await;

    let producer = Producer::new(&client, key, options);
    let mut subscriber = service.subscribe(&[MEMPOOL_BLOCK_ACCEPTED, GOSSIP_STATUS]);
    let listener = Arc::clone(&producer);
    tokio::spawn(async move {
        while let Some(broadcast) = subscriber.recv().await {
            match broadcast.topic.as_str() {
                MEMPOOL_BLOCK_ACCEPTED => {
                    if let Ok(accepted) = BlockAccepted::decode(broadcast.body.as_slice()) {
                        let timestamp = accepted
                            .block
                            .and_then(|b| b.header)
                            .map_or(0, |h| h.timestamp);
                        listener.on_block_accepted(accepted.head, timestamp);
                    }
                }
                GOSSIP_STATUS => {
                    if let Ok(status) = GossipStatus::decode(broadcast.body.as_slice()) {
                        listener.on_gossip_status(status.enabled);
                    }
                }
                _ => {}
            }
        }
    });
    service.readiness.set(true);
    producer.run(service.shutdown()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pob_args() -> ProducerArgs {
        ProducerArgs {
            algorithm: Some("pob".into()),
            pob_contract_id: Some("1PUGh8MTMJrndnMhj24SLt7iBRPVM6RhfJ".into()),
            vhp_contract_id: Some("1KGpg4Btb11ez6miVF48cTL1ejEgsGcn45".into()),
            ..ProducerArgs::default()
        }
    }

    #[test]
    fn pob_reads_the_contract_ids() {
        let (options, _) = pob_args().resolve(std::path::Path::new("/tmp")).unwrap();
        let Algorithm::Pob(settings) = options.algorithm else {
            panic!("pob expected");
        };
        assert_eq!(
            bs58::encode(&settings.pob_contract).into_string(),
            "1PUGh8MTMJrndnMhj24SLt7iBRPVM6RhfJ"
        );
        assert_eq!(settings.producer, None);
        let (options, _) = ProducerArgs::default()
            .resolve(std::path::Path::new("/tmp"))
            .unwrap();
        assert_eq!(options.algorithm, Algorithm::Federated);
    }

    #[test]
    fn bad_pob_options_name_the_field() {
        let error = |args: ProducerArgs| {
            args.resolve(std::path::Path::new("/tmp"))
                .unwrap_err()
                .to_string()
        };
        let missing = ProducerArgs {
            vhp_contract_id: None,
            ..pob_args()
        };
        assert_eq!(
            error(missing),
            "block_producer.vhp-contract-id is required with algorithm pob"
        );
        let bad = ProducerArgs {
            producer: Some("0OIl".into()),
            ..pob_args()
        };
        assert!(error(bad).starts_with("block_producer.producer: "));
        let unknown = ProducerArgs {
            algorithm: Some("pow".into()),
            ..ProducerArgs::default()
        };
        assert!(error(unknown).contains("\"pow\" is not supported (federated or pob)"));
    }
}
