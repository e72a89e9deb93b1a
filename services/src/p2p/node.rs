//! The libp2p host: TCP + Noise + yamux, identify (`koinos/p2p/1.0.0`), gossipsub (strict
//! signing, flood publish, the official message id) and raw streams for the peer RPC. One task
//! owns the swarm; the rest of the node talks to it through [`Shared`].

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, identity::Keypair, noise, tcp, yamux};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::gossip::{BLOCKS_TOPIC, MAX_MESSAGE_BYTES, SEEN_TTL, TRANSACTIONS_TOPIC, message_id};
use super::scoring::{Offence, Scores};

/// The identify protocol version (a peer must start with `koinos/p2p/`).
pub const PROTOCOL_VERSION: &str = "koinos/p2p/1.0.0";
const PROTOCOL_PREFIX: &str = "koinos/p2p/";

/// A peer's identify protocol version is ours: `koinos/p2p/` and a semver of major 1 (the
/// official node compares semvers the same way).
pub fn compatible_version(version: &str) -> bool {
    let Some(semver) = version.strip_prefix(PROTOCOL_PREFIX) else {
        return false;
    };
    let core = semver.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| p.parse::<u64>().is_ok()) && parts[0] == "1"
}

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    stream: libp2p_stream::Behaviour,
}

/// What the swarm task is asked to do.
#[derive(Debug)]
pub enum Command {
    Publish {
        topic: &'static str,
        data: Vec<u8>,
    },
    /// The verdict on a gossip message held for validation.
    Validate {
        id: gossipsub::MessageId,
        source: PeerId,
        acceptance: gossipsub::MessageAcceptance,
    },
    /// Join (true) or leave (false) both topics.
    Gossip(bool),
    Dial(Multiaddr),
    Disconnect(PeerId),
}

/// What the swarm task reports.
#[derive(Debug)]
pub enum Event {
    Connected(PeerId),
    Disconnected(PeerId),
    Gossip {
        source: PeerId,
        id: gossipsub::MessageId,
        topic: String,
        data: Vec<u8>,
    },
    Listening(Multiaddr),
}

/// State shared by the node's tasks.
pub struct Shared {
    pub local_peer_id: PeerId,
    pub commands: mpsc::Sender<Command>,
    pub scores: Mutex<Scores<PeerId>>,
    pub connected: Mutex<HashSet<PeerId>>,
    pub gossip_enabled: AtomicBool,
    pub control: Mutex<libp2p_stream::Control>,
    /// Gossiped blocks waiting for their parent.
    pub orphans: Mutex<super::gossip::Orphans<koinos_protocol::Block>>,
    /// Blocks sync applied (not gossiped out).
    pub synced: Mutex<super::gossip::SyncedIds>,
}

impl Shared {
    /// Scores the offence; a peer past the threshold is disconnected (and refused until its
    /// score decays).
    pub fn punish(&self, peer: PeerId, offence: Offence) {
        let banned =
            self.scores
                .lock()
                .expect("scores lock")
                .record(&peer, offence, Instant::now());
        tracing::warn!(%peer, ?offence, banned, "peer offence");
        if banned {
            let _ = self.commands.try_send(Command::Disconnect(peer));
        }
    }

    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.scores
            .lock()
            .expect("scores lock")
            .is_banned(peer, Instant::now())
    }

    pub fn peer_count(&self) -> usize {
        self.connected.lock().expect("connected lock").len()
    }

    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.connected
            .lock()
            .expect("connected lock")
            .contains(peer)
    }

    pub fn gossip_enabled(&self) -> bool {
        self.gossip_enabled.load(Ordering::Relaxed)
    }

    /// True when sync applied the block `id` (it is not gossiped out).
    pub fn applied_by_sync(&self, id: &[u8]) -> bool {
        self.synced.lock().expect("synced lock").contains(id)
    }

    /// A stream control of its own (each clone has its own backpressure slot).
    pub fn control(&self) -> libp2p_stream::Control {
        self.control.lock().expect("control lock").clone()
    }
}

/// Builds the swarm listening on `listen`.
pub fn build_swarm(keypair: Keypair, listen: Multiaddr) -> anyhow::Result<Swarm<Behaviour>> {
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .message_id_fn(|m: &gossipsub::Message| {
                    gossipsub::MessageId::from(message_id(&m.data))
                })
                .flood_publish(true)
                .do_px()
                .duplicate_cache_time(SEEN_TTL)
                .max_transmit_size(MAX_MESSAGE_BYTES + 4096)
                .validate_messages()
                .build()
                .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                config,
            )
            .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?;
            let identify = identify::Behaviour::new(
                identify::Config::new(PROTOCOL_VERSION.into(), key.public())
                    .with_agent_version(format!("koinos-p2p-rs/{}", env!("CARGO_PKG_VERSION"))),
            );
            Ok(Behaviour {
                identify,
                gossipsub,
                stream: libp2p_stream::Behaviour::new(),
            })
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.listen_on(listen)?;
    Ok(swarm)
}

/// Runs the swarm until `shutdown`: executes commands, reports events.
pub async fn run_swarm(
    mut swarm: Swarm<Behaviour>,
    shared: std::sync::Arc<Shared>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    shutdown: CancellationToken,
) {
    let topics = [
        gossipsub::IdentTopic::new(BLOCKS_TOPIC),
        gossipsub::IdentTopic::new(TRANSACTIONS_TOPIC),
    ];
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            command = commands.recv() => {
                let Some(command) = command else { return };
                let gossip = &mut swarm.behaviour_mut().gossipsub;
                match command {
                    Command::Publish { topic, data } => {
                        if let Err(error) = gossip.publish(gossipsub::IdentTopic::new(topic), data) {
                            tracing::debug!(topic, %error, "gossip publish");
                        }
                    }
                    Command::Validate { id, source, acceptance } => {
                        gossip.report_message_validation_result(&id, &source, acceptance);
                    }
                    Command::Gossip(on) => {
                        for topic in &topics {
                            if on {
                                if let Err(error) = gossip.subscribe(topic) {
                                    tracing::warn!(%error, "gossip subscribe");
                                }
                            } else {
                                gossip.unsubscribe(topic);
                            }
                        }
                    }
                    Command::Dial(addr) => {
                        if let Err(error) = swarm.dial(addr.clone()) {
                            tracing::debug!(%addr, %error, "dial");
                        }
                    }
                    Command::Disconnect(peer) => {
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                }
            }
            event = swarm.select_next_some() => handle_event(&mut swarm, &shared, &events, event).await,
        }
    }
}

async fn handle_event(
    swarm: &mut Swarm<Behaviour>,
    shared: &Shared,
    events: &mpsc::Sender<Event>,
    event: SwarmEvent<BehaviourEvent>,
) {
    match event {
        SwarmEvent::NewListenAddr { address, .. } => {
            tracing::info!(%address, peer_id = %shared.local_peer_id, "listening");
            let _ = events.send(Event::Listening(address)).await;
        }
        SwarmEvent::ConnectionEstablished {
            peer_id,
            num_established,
            ..
        } => {
            if shared.is_banned(&peer_id) {
                tracing::info!(%peer_id, "refusing a banned peer");
                let _ = swarm.disconnect_peer_id(peer_id);
                return;
            }
            if num_established.get() == 1 {
                shared
                    .connected
                    .lock()
                    .expect("connected lock")
                    .insert(peer_id);
                tracing::info!(%peer_id, "peer connected");
                let _ = events.send(Event::Connected(peer_id)).await;
            }
        }
        SwarmEvent::ConnectionClosed {
            peer_id,
            num_established: 0,
            ..
        } => {
            let removed = shared
                .connected
                .lock()
                .expect("connected lock")
                .remove(&peer_id);
            if removed {
                tracing::info!(%peer_id, "peer disconnected");
                let _ = events.send(Event::Disconnected(peer_id)).await;
            }
        }
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        })) => {
            let _ = events
                .send(Event::Gossip {
                    source: propagation_source,
                    id: message_id,
                    topic: message.topic.into_string(),
                    data: message.data,
                })
                .await;
        }
        SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            ..
        })) if !compatible_version(&info.protocol_version) => {
            tracing::info!(%peer_id, version = %info.protocol_version, "not a koinos peer");
            shared.punish(peer_id, Offence::WrongProtocol);
            let _ = swarm.disconnect_peer_id(peer_id);
        }
        _ => {}
    }
}

impl Behaviour {
    /// A control for opening and accepting raw streams.
    pub fn stream_control(&mut self) -> libp2p_stream::Control {
        self.stream.new_control()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_versions() {
        assert!(compatible_version(PROTOCOL_VERSION));
        assert!(compatible_version("koinos/p2p/1.2.3"));
        assert!(compatible_version("koinos/p2p/1.0.0-rc1"));
        assert!(!compatible_version("koinos/p2p/2.0.0"));
        assert!(!compatible_version("koinos/p2p/1.0"));
        assert!(!compatible_version("ipfs/0.1.0"));
        assert!(!compatible_version(""));
    }
}
