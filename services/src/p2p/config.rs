//! `p2p` options (the official names) and the node identity.

use std::time::Duration;

use clap::Args;
use koinos_protocol::p2p_identity::node_secret;
use libp2p::identity::{Keypair, ecdsa};
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

/// The official default listen address.
pub const LISTEN_DEFAULT: &str = "/ip4/127.0.0.1/tcp/8888";
/// Blocks per sync request (official `BlockRequestBatchSize`).
pub const BLOCK_BATCH: u64 = 500;
/// Timeout of one `GetBlocks` (official: 0.3 s per block of the batch).
pub const BLOCK_REQUEST_TIMEOUT: Duration = Duration::from_secs(150);
/// Timeout of the other peer RPCs (official `RemoteRPCTimeout`).
pub const PEER_RPC_TIMEOUT: Duration = Duration::from_secs(6);
/// Timeout of local (AMQP) calls (official `LocalRPCTimeout`).
pub const LOCAL_RPC_TIMEOUT: Duration = Duration::from_secs(6);
/// Pause between handshake attempts (official `HandshakeRetryTime`).
pub const HANDSHAKE_RETRY: Duration = Duration::from_secs(6);
/// Pause between sync checks of a peer we are synced with (official `SyncedPingTime`).
pub const SYNCED_PING: Duration = Duration::from_secs(10);
/// Gossip is on while the head is at most this old (official).
pub const GOSSIP_HEAD_AGE: Duration = Duration::from_secs(45);
/// How often the gossip switch is evaluated.
pub const GOSSIP_CHECK: Duration = Duration::from_secs(1);
/// How often configured peers that are not connected are dialed again.
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(5);

/// `p2p` options; unset ones fall back to `global`, then the defaults.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct P2pArgs {
    /// The multiaddress to listen on [default: /ip4/127.0.0.1/tcp/8888]
    #[arg(long)]
    pub listen: Option<String>,
    /// Seed of the node identity (random when empty)
    #[arg(short = 's', long)]
    pub seed: Option<String>,
    /// Peer multiaddress (with /p2p/<id>) to connect to (repeatable)
    #[arg(short = 'p', long)]
    pub peer: Option<Vec<String>>,
    /// Checkpoint `height:blockid` (hex) every peer's chain must contain (repeatable)
    #[arg(short = 'c', long)]
    pub checkpoint: Option<Vec<String>>,
    /// Never enable gossip
    #[arg(short = 'g', long, num_args = 0..=1, default_missing_value = "true")]
    pub disable_gossip: Option<bool>,
    /// Always enable gossip
    #[arg(short = 'G', long, num_args = 0..=1, default_missing_value = "true")]
    pub force_gossip: Option<bool>,
    /// A multiaddress (without /p2p) peers outside this host's network dial, e.g. a load
    /// balancer's; told to peers through identify (repeatable)
    #[arg(long)]
    pub external_address: Option<Vec<String>>,
}

/// A block every peer's chain must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub height: u64,
    pub id: Vec<u8>,
}

/// The resolved options.
#[derive(Debug, Clone)]
pub struct P2pOptions {
    pub listen: Multiaddr,
    pub seed: String,
    pub peers: Vec<Multiaddr>,
    pub checkpoints: Vec<Checkpoint>,
    pub disable_gossip: bool,
    pub force_gossip: bool,
    /// Addresses the host announces beside the ones it listens on (`external-address`).
    pub external_addresses: Vec<Multiaddr>,
}

impl P2pArgs {
    pub fn resolve(&self) -> anyhow::Result<P2pOptions> {
        let listen = self
            .listen
            .as_deref()
            .unwrap_or(LISTEN_DEFAULT)
            .parse()
            .map_err(|e| anyhow::anyhow!("listen: {e}"))?;
        let peers = self
            .peer
            .iter()
            .flatten()
            .map(|p| {
                let addr: Multiaddr = p.parse().map_err(|e| anyhow::anyhow!("peer {p}: {e}"))?;
                peer_id_of(&addr).ok_or_else(|| anyhow::anyhow!("peer {p}: no /p2p/<id>"))?;
                Ok(addr)
            })
            .collect::<anyhow::Result<_>>()?;
        let checkpoints = self
            .checkpoint
            .iter()
            .flatten()
            .map(|c| parse_checkpoint(c))
            .collect::<anyhow::Result<_>>()?;
        let external_addresses = self
            .external_address
            .iter()
            .flatten()
            .map(|a| {
                let addr: Multiaddr = a
                    .parse()
                    .map_err(|e| anyhow::anyhow!("external-address {a}: {e}"))?;
                // Peers append our id themselves; an address naming one is a mistake.
                anyhow::ensure!(
                    peer_id_of(&addr).is_none(),
                    "external-address {a}: without /p2p/<id>"
                );
                Ok(addr)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(P2pOptions {
            listen,
            seed: self.seed.clone().unwrap_or_default(),
            peers,
            checkpoints,
            disable_gossip: self.disable_gossip.unwrap_or(false),
            force_gossip: self.force_gossip.unwrap_or(false),
            external_addresses,
        })
    }
}

/// `height:blockid`, the id in hex (the official form; a `0x` prefix is accepted).
pub fn parse_checkpoint(text: &str) -> anyhow::Result<Checkpoint> {
    let (height, id) = text
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("checkpoint {text:?} is not height:blockid"))?;
    let height = height
        .parse()
        .map_err(|e| anyhow::anyhow!("checkpoint height {height:?}: {e}"))?;
    let id = hex::decode(id.trim_start_matches("0x"))
        .map_err(|e| anyhow::anyhow!("checkpoint block id {id:?}: {e}"))?;
    Ok(Checkpoint { height, id })
}

/// The `/p2p/<id>` of an address.
pub fn peer_id_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// The node key: ECDSA P-256 as the official node uses, derived from `seed` by
/// [`koinos_protocol::p2p_identity::node_secret`] (random when empty), so a seed always gives
/// the same peer id here and the operator can publish it. The official node's peer id for a
/// seed cannot be reproduced (see that module).
pub fn identity(seed: &str) -> Keypair {
    if seed.is_empty() {
        return Keypair::generate_ecdsa();
    }
    let secret = ecdsa::SecretKey::try_from_bytes(node_secret(seed))
        .expect("node_secret is a valid P-256 scalar");
    ecdsa::Keypair::from(secret).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_deterministic_per_seed() {
        let a = identity("alice").public().to_peer_id();
        assert_eq!(a, identity("alice").public().to_peer_id());
        assert_ne!(a, identity("bob").public().to_peer_id());
        assert_ne!(
            identity("").public().to_peer_id(),
            identity("").public().to_peer_id()
        );
        assert!(identity("alice").public().try_into_ecdsa().is_ok());
    }

    #[test]
    fn the_published_peer_id_is_the_one_libp2p_derives() {
        for seed in [
            "alice",
            "x",
            "a seed with spaces",
            "0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(
                koinos_protocol::p2p_identity::peer_id(seed),
                identity(seed).public().to_peer_id().to_string(),
                "{seed}"
            );
        }
    }

    #[test]
    fn options_resolve_with_official_defaults() {
        let o = P2pArgs::default().resolve().unwrap();
        assert_eq!(o.listen.to_string(), LISTEN_DEFAULT);
        assert!(!o.disable_gossip && !o.force_gossip && o.peers.is_empty());
        let id = identity("x").public().to_peer_id();
        let args = P2pArgs {
            peer: Some(vec![format!("/ip4/127.0.0.1/tcp/1/p2p/{id}")]),
            checkpoint: Some(vec!["10:1220ab".into(), "0:0x00".into()]),
            ..Default::default()
        };
        let o = args.resolve().unwrap();
        assert_eq!(peer_id_of(&o.peers[0]), Some(id));
        assert_eq!(
            o.checkpoints[0],
            Checkpoint {
                height: 10,
                id: vec![0x12, 0x20, 0xab]
            }
        );
        for bad in ["10", "x:00", "1:zz"] {
            assert!(parse_checkpoint(bad).is_err(), "{bad}");
        }
        let no_id = P2pArgs {
            peer: Some(vec!["/ip4/127.0.0.1/tcp/1".into()]),
            ..Default::default()
        };
        assert!(no_id.resolve().is_err());
    }

    #[test]
    fn external_addresses_are_multiaddrs_without_a_peer_id() {
        let args = |a: &str| P2pArgs {
            external_address: Some(vec![a.into()]),
            ..Default::default()
        };
        let o = args("/ip4/203.0.113.7/tcp/8888").resolve().unwrap();
        assert_eq!(
            o.external_addresses[0].to_string(),
            "/ip4/203.0.113.7/tcp/8888"
        );
        let id = identity("x").public().to_peer_id();
        for bad in [
            "203.0.113.7:8888",
            &format!("/dns/p2p.example.com/tcp/8888/p2p/{id}"),
        ] {
            assert!(args(bad).resolve().is_err(), "{bad}");
        }
    }
}
