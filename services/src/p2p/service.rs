//! The `koinos-p2p` process: the libp2p host, gossip in and out, the gossip switch, sync with
//! every peer, the peer RPC server and `koinos.rpc.p2p`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use koinos_protocol::broadcast::{BlockAccepted, GossipStatus, MempoolAccepted};
use koinos_protocol::pb::koinos::rpc::block_store::{BlockStoreRequest, BlockStoreResponse};
use koinos_protocol::pb::koinos::rpc::chain::{ChainRequest, ChainResponse};
use koinos_protocol::pb::koinos::rpc::p2p::{
    GetGossipStatusResponse, P2pRequest, P2pResponse, p2p_request, p2p_response,
};
use koinos_protocol::{Block, Transaction};
use libp2p::PeerId;
use libp2p::gossipsub::MessageAcceptance;
use prost::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::{
    GOSSIP_CHECK, GOSSIP_HEAD_AGE, P2pArgs, P2pOptions, RECONNECT_INTERVAL, identity, peer_id_of,
};
use super::gossip::{BLOCKS_TOPIC, MAX_MESSAGE_BYTES, TRANSACTIONS_TOPIC, gossip_enabled};
use super::local::{AmqpLocal, Local, SubmitError};
use super::node::{Command, Event, Shared, build_swarm, run_swarm};
use super::scoring::{Offence, Scores};
use super::sync;
use crate::mq::topology::service as svc;
use crate::mq::topology::topic::{GOSSIP_STATUS, MEMPOOL_ACCEPT, MEMPOOL_BLOCK_ACCEPTED};
use crate::mq::typed::{Handler, RpcError, TypedClient};
use crate::mq::{Broadcaster, CallOptions};
use crate::runtime::Service;

/// `koinos.rpc.p2p`.
struct P2pHandler {
    shared: Arc<Shared>,
}

impl Handler for P2pHandler {
    type Request = P2pRequest;
    type Response = P2pResponse;

    async fn handle(&self, request: P2pRequest) -> Result<P2pResponse, RpcError> {
        match request.request {
            Some(p2p_request::Request::GetGossipStatus(_)) => Ok(P2pResponse {
                response: Some(p2p_response::Response::GetGossipStatus(
                    GetGossipStatusResponse {
                        enabled: self.shared.gossip_enabled(),
                    },
                )),
            }),
            _ => Err(RpcError::new("unknown request")),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs the node until shutdown.
pub async fn run(service: Service<P2pArgs>) -> anyhow::Result<()> {
    let options = service.settings.args.resolve()?;
    let client = service.client();
    let ping = CallOptions::timeout(Duration::from_secs(1));
    wait_for(&TypedClient::<BlockStoreRequest, BlockStoreResponse>::new(
        &client,
        svc::BLOCK_STORE,
        ping,
    ))
    .await;
    wait_for(&TypedClient::<ChainRequest, ChainResponse>::new(
        &client,
        svc::CHAIN,
        ping,
    ))
    .await;
    let local = Arc::new(AmqpLocal::new(&client));
    let shutdown = service.shutdown();
    let node = start(
        local,
        options,
        Some(service.broadcaster()),
        shutdown.clone(),
    )
    .await?;

    // gossip out: what the mempool accepted
    let mut subscriber = service.subscribe(&[MEMPOOL_BLOCK_ACCEPTED, MEMPOOL_ACCEPT]);
    let out = node.clone();
    tokio::spawn(async move {
        while let Some(broadcast) = subscriber.recv().await {
            if !out.gossip_enabled() {
                continue;
            }
            let publish = match broadcast.topic.as_str() {
                MEMPOOL_BLOCK_ACCEPTED => BlockAccepted::decode(broadcast.body.as_slice())
                    .ok()
                    .and_then(|a| a.block)
                    .filter(|b| !out.applied_by_sync(&b.id))
                    .map(|b| (BLOCKS_TOPIC, b.encode_to_vec())),
                MEMPOOL_ACCEPT => MempoolAccepted::decode(broadcast.body.as_slice())
                    .ok()
                    .and_then(|a| a.transaction)
                    .map(|t| (TRANSACTIONS_TOPIC, t.encode_to_vec())),
                _ => None,
            };
            if let Some((topic, data)) = publish {
                let _ = out.commands.send(Command::Publish { topic, data }).await;
            }
        }
    });

    service.readiness.set(true);
    let handler = P2pHandler { shared: node };
    service.serve(handler).await?;
    shutdown.cancel();
    Ok(())
}

async fn wait_for<Req, Resp>(client: &TypedClient<Req, Resp>)
where
    Req: crate::mq::typed::RequestEnvelope,
    Resp: crate::mq::typed::ResponseEnvelope,
{
    while let Err(error) = client.ping().await {
        tracing::info!(%error, "waiting for a service");
    }
}

/// Starts the host and every task of the node on `local`; returns the shared state. Used by
/// the binary (AMQP) and by tests (a stand-in [`Local`], no broadcaster).
pub async fn start<L: Local>(
    local: Arc<L>,
    options: P2pOptions,
    broadcaster: Option<Broadcaster>,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<Shared>> {
    let keypair = identity(&options.seed);
    let local_peer_id = keypair.public().to_peer_id();
    let mut swarm = build_swarm(keypair, options.listen.clone())?;
    for address in &options.external_addresses {
        tracing::info!(%address, "announcing an external address");
        swarm.add_external_address(address.clone());
    }
    let (command_tx, command_rx) = mpsc::channel(1024);
    let (event_tx, mut event_rx) = mpsc::channel(1024);
    let shared = Arc::new(Shared {
        local_peer_id,
        commands: command_tx,
        scores: Mutex::new(Scores::default()),
        connected: Mutex::new(Default::default()),
        gossip_enabled: Default::default(),
        control: Mutex::new(swarm.behaviour_mut().stream_control()),
        orphans: Mutex::default(),
        synced: Mutex::default(),
    });
    tokio::spawn(run_swarm(
        swarm,
        shared.clone(),
        command_rx,
        event_tx,
        shutdown.clone(),
    ));
    tokio::spawn(sync::serve(local.clone(), shared.clone(), shutdown.clone()));
    tokio::spawn(toggle(
        local.clone(),
        shared.clone(),
        options.clone(),
        broadcaster,
        shutdown.clone(),
    ));
    tokio::spawn(reconnect(
        shared.clone(),
        options.peers.clone(),
        shutdown.clone(),
    ));

    // events: peers come and go, gossip comes in
    let events_shared = shared.clone();
    let checkpoints = Arc::new(options.checkpoints.clone());
    tokio::spawn(async move {
        let shared = events_shared;
        let mut peers: HashMap<PeerId, CancellationToken> = HashMap::new();
        while let Some(event) = event_rx.recv().await {
            match event {
                Event::Connected(peer) => {
                    let stop = shutdown.child_token();
                    peers.insert(peer, stop.clone());
                    tokio::spawn(sync::run_peer(
                        local.clone(),
                        shared.clone(),
                        peer,
                        checkpoints.clone(),
                        stop,
                    ));
                }
                Event::Disconnected(peer) => {
                    if let Some(stop) = peers.remove(&peer) {
                        stop.cancel();
                    }
                }
                Event::Gossip {
                    source,
                    id,
                    topic,
                    data,
                } => {
                    let local = local.clone();
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let acceptance = gossip_in(&*local, &shared, source, &topic, data).await;
                        let _ = shared
                            .commands
                            .send(Command::Validate {
                                id,
                                source,
                                acceptance,
                            })
                            .await;
                    });
                }
                Event::Listening(_) => {}
            }
        }
    });
    Ok(shared)
}

/// Applies a gossiped block or transaction; the verdict decides whether gossipsub forwards it.
async fn gossip_in<L: Local>(
    local: &L,
    shared: &Shared,
    source: PeerId,
    topic: &str,
    data: Vec<u8>,
) -> MessageAcceptance {
    if !shared.gossip_enabled() {
        return MessageAcceptance::Ignore;
    }
    if data.len() > MAX_MESSAGE_BYTES {
        shared.punish(source, Offence::Deserialization);
        return MessageAcceptance::Reject;
    }
    let (result, offence) = match topic {
        BLOCKS_TOPIC => match Block::decode(data.as_slice()) {
            Ok(block) => {
                let id = block.id.clone();
                let parent = block
                    .header
                    .as_ref()
                    .map(|h| h.previous.clone())
                    .unwrap_or_default();
                match local.submit_block(block.clone()).await {
                    Ok(()) => {
                        sync::apply_orphans(local, shared, id).await;
                        (Ok(()), Offence::BlockApplication)
                    }
                    Err(SubmitError::Unlinkable(message)) => {
                        let kept = shared.orphans.lock().expect("orphans lock").insert(
                            parent,
                            block,
                            std::time::Instant::now(),
                        );
                        tracing::debug!(kept, "gossiped block ahead of our head");
                        (
                            Err(SubmitError::Unlinkable(message)),
                            Offence::BlockApplication,
                        )
                    }
                    Err(other) => (Err(other), Offence::BlockApplication),
                }
            }
            Err(_) => {
                shared.punish(source, Offence::Deserialization);
                return MessageAcceptance::Reject;
            }
        },
        TRANSACTIONS_TOPIC => match Transaction::decode(data.as_slice()) {
            Ok(transaction) => (
                local.submit_transaction(transaction).await,
                Offence::TransactionApplication,
            ),
            Err(_) => {
                shared.punish(source, Offence::Deserialization);
                return MessageAcceptance::Reject;
            }
        },
        _ => return MessageAcceptance::Ignore,
    };
    match result {
        Ok(()) => MessageAcceptance::Accept,
        Err(SubmitError::Irreversible(_)) => {
            shared.punish(source, Offence::BlockIrreversibility);
            MessageAcceptance::Ignore
        }
        Err(SubmitError::Refused(message)) => {
            tracing::info!(%source, topic, %message, "gossip refused by the chain");
            shared.punish(source, offence);
            MessageAcceptance::Reject
        }
        Err(SubmitError::Unlinkable(_)) => MessageAcceptance::Ignore,
        Err(SubmitError::Local(message)) => {
            tracing::warn!(%message, "gossip not applied");
            MessageAcceptance::Ignore
        }
    }
}

/// The gossip switch, checked every second; `koinos.gossip.status` on each change.
async fn toggle<L: Local>(
    local: Arc<L>,
    shared: Arc<Shared>,
    options: P2pOptions,
    broadcaster: Option<Broadcaster>,
    shutdown: CancellationToken,
) {
    let mut current: Option<bool> = None;
    let mut interval = tokio::time::interval(GOSSIP_CHECK);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        let head_time = match local.head().await {
            Ok(head) => head.time_ms,
            Err(error) => {
                tracing::debug!(%error, "head for the gossip switch");
                continue;
            }
        };
        let enabled = gossip_enabled(
            options.force_gossip,
            options.disable_gossip,
            shared.peer_count(),
            head_time,
            now_ms(),
            GOSSIP_HEAD_AGE,
        );
        if current == Some(enabled) {
            continue;
        }
        tracing::info!(enabled, "gossip");
        shared.gossip_enabled.store(enabled, Ordering::Relaxed);
        let _ = shared.commands.send(Command::Gossip(enabled)).await;
        let status = GossipStatus { enabled }.encode_to_vec();
        if let Some(broadcaster) = &broadcaster
            && let Err(error) = broadcaster.publish(GOSSIP_STATUS, &status).await
        {
            tracing::warn!(%error, "publishing the gossip status");
            continue; // retried next tick
        }
        current = Some(enabled);
    }
}

/// Dials the configured peers that are not connected (and not banned), now and every few
/// seconds.
async fn reconnect(
    shared: Arc<Shared>,
    peers: Vec<libp2p::Multiaddr>,
    shutdown: CancellationToken,
) {
    if peers.is_empty() {
        return;
    }
    let mut interval = tokio::time::interval(RECONNECT_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        for addr in &peers {
            let Some(peer) = peer_id_of(addr) else {
                continue;
            };
            if shared.is_connected(&peer) || shared.is_banned(&peer) {
                continue;
            }
            // Resolved at each attempt: a peer's Service or seed host may move.
            match resolve_dns(addr).await {
                Ok(resolved) => {
                    let _ = shared.commands.send(Command::Dial(resolved)).await;
                }
                Err(error) => tracing::debug!(%addr, %error, "resolving a peer address"),
            }
        }
    }
}

/// `addr` with a leading `/dns`, `/dns4` or `/dns6` host replaced by an address the system
/// resolver gives for it (IPv4 for `dns4`, IPv6 for `dns6`); other addresses unchanged. The
/// official seed nodes and Kubernetes Services are DNS names; the system resolver applies the
/// pod's search domains, as the official node's does.
pub async fn resolve_dns(addr: &libp2p::Multiaddr) -> std::io::Result<libp2p::Multiaddr> {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    let (host, want_v4, want_v6) = match parts.next() {
        Some(Protocol::Dns(host)) => (host, true, true),
        Some(Protocol::Dns4(host)) => (host, true, false),
        Some(Protocol::Dns6(host)) => (host, false, true),
        _ => return Ok(addr.clone()),
    };
    let rest: Vec<Protocol> = parts.collect();
    let port = match rest.first() {
        Some(Protocol::Tcp(port)) => *port,
        _ => 0,
    };
    let ip = tokio::net::lookup_host((host.as_ref(), port))
        .await?
        .map(|a| a.ip())
        .find(|ip| (ip.is_ipv4() && want_v4) || (ip.is_ipv6() && want_v6))
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{host} has no {} address",
                    match (want_v4, want_v6) {
                        (true, false) => "IPv4",
                        (false, true) => "IPv6",
                        _ => "IP",
                    }
                ),
            )
        })?;
    let mut resolved = libp2p::Multiaddr::empty();
    resolved.push(match ip {
        std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
    });
    for part in rest {
        resolved.push(part);
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dns_peer_addresses_resolve_before_dialing() {
        let id = identity("x").public().to_peer_id();
        let addr: libp2p::Multiaddr = format!("/dns4/localhost/tcp/8888/p2p/{id}")
            .parse()
            .unwrap();
        let resolved = resolve_dns(&addr).await.unwrap();
        assert_eq!(
            resolved.to_string(),
            format!("/ip4/127.0.0.1/tcp/8888/p2p/{id}")
        );
        let ip: libp2p::Multiaddr = format!("/ip4/10.0.0.1/tcp/1/p2p/{id}").parse().unwrap();
        assert_eq!(resolve_dns(&ip).await.unwrap(), ip);
        let nowhere: libp2p::Multiaddr = "/dns4/no-such-host.invalid/tcp/1".parse().unwrap();
        assert!(resolve_dns(&nowhere).await.is_err());
    }
}
