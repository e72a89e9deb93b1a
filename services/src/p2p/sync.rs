//! Sync with each peer (the official `PeerConnection`): a handshake (same chain id, every
//! checkpoint on the peer's chain), then batches of blocks from our last irreversible block
//! up to the peer's head, applied through the chain; and the peer RPC server answering the
//! same questions from our chain and block_store.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use koinos_protocol::Block;
use koinos_protocol::pb::koinos::block_store::BlockItem;
use libp2p::{PeerId, StreamProtocol};
use prost::Message;
use tokio_util::sync::CancellationToken;

use super::config::{
    BLOCK_BATCH, BLOCK_REQUEST_TIMEOUT, Checkpoint, HANDSHAKE_RETRY, PEER_RPC_TIMEOUT, SYNCED_PING,
};
use super::local::{Local, SubmitError};
use super::node::Shared;
use super::peer_rpc::{self, CallError, Incoming, Reply, Request, ResponseHeader};
use super::scoring::Offence;

/// How long the server gives one incoming call (reading it and answering).
const SERVE_TIMEOUT: Duration = Duration::from_secs(30);
/// Incoming calls served at once (from all peers); a stream beyond it is dropped unanswered.
const MAX_CONCURRENT_CALLS: usize = 64;

/// Why a step with a peer failed, and what it costs the peer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("peer rpc: {0}")]
    Rpc(String),
    #[error("peer rpc timed out")]
    Timeout,
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error("chain id mismatch")]
    ChainIdMismatch,
    #[error("checkpoint mismatch at height {0}")]
    CheckpointMismatch(u64),
    #[error("peer chain does not contain our last irreversible block")]
    ChainNotConnected,
    #[error("block refused: {0}")]
    BlockApplication(String),
    #[error("local: {0}")]
    Local(String),
}

impl PeerError {
    /// The offence to score, if the peer is at fault.
    pub fn offence(&self) -> Option<Offence> {
        Some(match self {
            PeerError::Rpc(_) => Offence::PeerRpc,
            PeerError::Timeout => Offence::PeerRpcTimeout,
            PeerError::Malformed(_) => Offence::Deserialization,
            PeerError::ChainIdMismatch => Offence::ChainIdMismatch,
            PeerError::CheckpointMismatch(_) => Offence::CheckpointMismatch,
            PeerError::ChainNotConnected => Offence::ChainNotConnected,
            PeerError::BlockApplication(_) => Offence::BlockApplication,
            PeerError::Local(_) => return None,
        })
    }
}

fn local_error(error: impl std::fmt::Display) -> PeerError {
    PeerError::Local(error.to_string())
}

/// The client side of the peer RPC to one peer.
pub struct RemotePeer {
    pub peer: PeerId,
    control: libp2p_stream::Control,
}

impl RemotePeer {
    pub fn new(peer: PeerId, control: libp2p_stream::Control) -> Self {
        Self { peer, control }
    }

    async fn call(&mut self, request: Request, timeout: Duration) -> Result<Reply, PeerError> {
        let exchange = async {
            let mut stream = self
                .control
                .open_stream(self.peer, StreamProtocol::new(peer_rpc::PROTOCOL))
                .await
                .map_err(|e| PeerError::Rpc(e.to_string()))?;
            let result = peer_rpc::call(&mut stream, &request).await;
            let _ = futures::AsyncWriteExt::close(&mut stream).await;
            match result {
                Ok(reply) => Ok(reply),
                Err(CallError::Malformed(e)) => Err(PeerError::Malformed(e.to_string())),
                Err(other) => Err(PeerError::Rpc(other.to_string())),
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(PeerError::Timeout))
    }

    pub async fn chain_id(&mut self) -> Result<Vec<u8>, PeerError> {
        match self.call(Request::GetChainId, PEER_RPC_TIMEOUT).await? {
            Reply::Id(id) => Ok(id.unwrap_or_default()),
            _ => Err(PeerError::Malformed("not an id".into())),
        }
    }

    pub async fn head(&mut self) -> Result<(Vec<u8>, u64), PeerError> {
        match self.call(Request::GetHeadBlock, PEER_RPC_TIMEOUT).await? {
            Reply::HeadBlock { id, height } => Ok((id.unwrap_or_default(), height)),
            _ => Err(PeerError::Malformed("not a head".into())),
        }
    }

    pub async fn ancestor_id(&mut self, head: &[u8], height: u64) -> Result<Vec<u8>, PeerError> {
        let request = Request::GetAncestorBlockId {
            parent_id: Some(head.to_vec()),
            child_height: height,
        };
        match self.call(request, PEER_RPC_TIMEOUT).await? {
            Reply::Id(id) => Ok(id.unwrap_or_default()),
            _ => Err(PeerError::Malformed("not an id".into())),
        }
    }

    /// `count` blocks from `start` on the chain ending at `head`; the peer must send exactly
    /// that many, each a block (or, as the published Go server writes them, a block item).
    pub async fn blocks(
        &mut self,
        head: &[u8],
        start: u64,
        count: u32,
    ) -> Result<Vec<Block>, PeerError> {
        let request = Request::GetBlocks {
            head_block_id: Some(head.to_vec()),
            start_block_height: start,
            num_blocks: count,
        };
        let Reply::Blocks(blocks) = self.call(request, BLOCK_REQUEST_TIMEOUT).await? else {
            return Err(PeerError::Malformed("not blocks".into()));
        };
        let blocks = blocks.unwrap_or_default();
        if blocks.len() != count as usize {
            return Err(PeerError::Rpc(format!(
                "peer returned {} blocks, asked {count}",
                blocks.len()
            )));
        }
        blocks.iter().map(|bytes| decode_block(bytes)).collect()
    }
}

/// A `GetBlocks` entry: a serialized block, or a block item carrying one.
pub fn decode_block(bytes: &[u8]) -> Result<Block, PeerError> {
    if let Ok(block) = Block::decode(bytes) {
        return Ok(block);
    }
    match BlockItem::decode(bytes) {
        Ok(BlockItem {
            block: Some(block), ..
        }) => Ok(block),
        _ => Err(PeerError::Malformed(
            "entry is neither a block nor a block item".into(),
        )),
    }
}

/// The handshake: same chain id, and the peer's chain has every checkpoint.
pub async fn handshake<L: Local>(
    local: &L,
    remote: &mut RemotePeer,
    checkpoints: &[Checkpoint],
) -> Result<(), PeerError> {
    let ours = local.chain_id().await.map_err(local_error)?;
    let theirs = remote.chain_id().await?;
    if ours != theirs {
        return Err(PeerError::ChainIdMismatch);
    }
    if checkpoints.is_empty() {
        return Ok(());
    }
    let (head, _) = remote.head().await?;
    for checkpoint in checkpoints {
        if remote.ancestor_id(&head, checkpoint.height).await? != checkpoint.id {
            return Err(PeerError::CheckpointMismatch(checkpoint.height));
        }
    }
    Ok(())
}

/// One sync step: true when we are synced with the peer (nothing to fetch).
pub async fn sync_step<L: Local>(
    local: &L,
    shared: &Shared,
    remote: &mut RemotePeer,
) -> Result<bool, PeerError> {
    let (lib_id, lib_height) = local.lib().await.map_err(local_error)?;
    let (peer_head, peer_height) = remote.head().await?;
    if peer_height <= lib_height {
        return Ok(true);
    }
    if local
        .has_block(peer_head.clone())
        .await
        .map_err(local_error)?
    {
        return Ok(true);
    }
    if lib_height > 0 && remote.ancestor_id(&peer_head, lib_height).await? != lib_id {
        return Err(PeerError::ChainNotConnected);
    }
    let count = (peer_height - lib_height).min(BLOCK_BATCH) as u32;
    let fetch_started = std::time::Instant::now();
    let blocks = remote.blocks(&peer_head, lib_height + 1, count).await?;
    let fetched = fetch_started.elapsed();
    let apply_started = std::time::Instant::now();
    let last = blocks.last().map(|b| b.id.clone());
    for block in blocks {
        // before the chain announces it: the announcement must find it
        shared
            .synced
            .lock()
            .expect("synced lock")
            .insert(block.id.clone());
        match local.submit_block(block).await {
            Ok(()) | Err(SubmitError::Irreversible(_)) => {}
            Err(SubmitError::Unlinkable(message)) => return Err(PeerError::Local(message)),
            Err(SubmitError::Refused(message)) => {
                return Err(PeerError::BlockApplication(message));
            }
            Err(SubmitError::Local(message)) => return Err(PeerError::Local(message)),
        }
    }
    if let Some(last) = last {
        apply_orphans(local, shared, last).await;
    }
    // one line per batch: how long the peer took to send it and the chain to apply it
    tracing::info!(
        peer = %remote.peer,
        from = lib_height + 1,
        count,
        fetch_ms = fetched.as_millis() as u64,
        apply_ms = apply_started.elapsed().as_millis() as u64,
        "sync batch applied"
    );
    Ok(false)
}

/// Applies the gossiped blocks that were waiting for `parent` (and theirs, in turn).
pub async fn apply_orphans<L: Local>(local: &L, shared: &Shared, parent: Vec<u8>) {
    let mut parents = vec![parent];
    while let Some(parent) = parents.pop() {
        let children = shared
            .orphans
            .lock()
            .expect("orphans lock")
            .take_children(&parent, std::time::Instant::now());
        for block in children {
            let id = block.id.clone();
            match local.submit_block(block).await {
                Ok(()) => parents.push(id),
                Err(error) => tracing::debug!(%error, "orphan block not applied"),
            }
        }
    }
}

/// Handshakes (retrying) and syncs with `peer` until it disconnects or `stop`.
pub async fn run_peer<L: Local>(
    local: Arc<L>,
    shared: Arc<Shared>,
    peer: PeerId,
    checkpoints: Arc<Vec<Checkpoint>>,
    stop: CancellationToken,
) {
    let mut remote = RemotePeer::new(peer, shared.control());
    let body = async {
        loop {
            match handshake(&*local, &mut remote, &checkpoints).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(%peer, %error, "handshake failed");
                    if let Some(offence) = error.offence() {
                        shared.punish(peer, offence);
                    }
                }
            }
            tokio::time::sleep(HANDSHAKE_RETRY).await;
        }
        tracing::info!(%peer, "handshake done");
        loop {
            let pause = match sync_step(&*local, &shared, &mut remote).await {
                Ok(true) => SYNCED_PING,
                Ok(false) => Duration::ZERO,
                Err(error) => {
                    tracing::warn!(%peer, %error, "sync failed");
                    if let Some(offence) = error.offence() {
                        shared.punish(peer, offence);
                    }
                    Duration::from_secs(1)
                }
            };
            tokio::time::sleep(pause).await;
        }
    };
    tokio::select! {
        () = stop.cancelled() => {}
        () = body => {}
    }
}

/// Serves incoming peer RPC streams until `stop`.
pub async fn serve<L: Local>(local: Arc<L>, shared: Arc<Shared>, stop: CancellationToken) {
    let mut control = shared.control();
    let mut incoming = match control.accept(StreamProtocol::new(peer_rpc::PROTOCOL)) {
        Ok(incoming) => incoming,
        Err(error) => {
            tracing::error!(%error, "peer rpc already registered");
            return;
        }
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_CALLS));
    loop {
        let (peer, mut stream) = tokio::select! {
            () = stop.cancelled() => return,
            next = incoming.next() => match next {
                Some(next) => next,
                None => return,
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "too many peer rpc calls: stream dropped");
            continue;
        };
        let local = local.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let served = tokio::time::timeout(SERVE_TIMEOUT, async {
                match peer_rpc::read_request(&mut stream).await {
                    Ok(Incoming::Call(service, request)) => {
                        let (header, reply) = match answer(&*local, &request).await {
                            Ok(reply) => (ResponseHeader::ok(service), Some(reply)),
                            Err(error) => (
                                ResponseHeader {
                                    service,
                                    error: format!("{error:#}"),
                                    err_type: 0,
                                },
                                None,
                            ),
                        };
                        let _ = peer_rpc::write_answer(&mut stream, &header, reply.as_ref()).await;
                    }
                    Ok(Incoming::Unknown(service)) => {
                        let header = peer_rpc::unknown_answer(&service);
                        let _ = peer_rpc::write_answer(&mut stream, &header, None).await;
                    }
                    Err(error) => {
                        tracing::info!(%peer, %error, "malformed peer rpc request");
                        shared.punish(peer, Offence::Deserialization);
                    }
                }
            })
            .await;
            if served.is_err() {
                tracing::debug!(%peer, "peer rpc call timed out");
            }
        });
    }
}

/// Answers one call from the local services.
pub async fn answer<L: Local>(local: &L, request: &Request) -> anyhow::Result<Reply> {
    Ok(match request {
        Request::GetChainId => Reply::Id(Some(local.chain_id().await?)),
        Request::GetHeadBlock => {
            let head = local.head().await?;
            Reply::HeadBlock {
                id: Some(head.id),
                height: head.height,
            }
        }
        Request::GetAncestorBlockId {
            parent_id,
            child_height,
        } => {
            let parent = parent_id
                .clone()
                .ok_or_else(|| anyhow::anyhow!("parent id is nil"))?;
            let items = local.blocks_by_height(parent, *child_height, 1).await?;
            anyhow::ensure!(items.len() == 1, "unexpected number of blocks returned");
            Reply::Id(Some(items[0].block_id.clone()))
        }
        Request::GetBlocks {
            head_block_id,
            start_block_height,
            num_blocks,
        } => {
            let head = head_block_id
                .clone()
                .ok_or_else(|| anyhow::anyhow!("head block id is nil"))?;
            anyhow::ensure!(
                u64::from(*num_blocks) <= 2 * BLOCK_BATCH,
                "requested too many blocks: {num_blocks}"
            );
            let items = local
                .blocks_by_height(head, *start_block_height, *num_blocks)
                .await?;
            Reply::Blocks(Some(
                items
                    .into_iter()
                    .map(|item| item.block.unwrap_or_default().encode_to_vec())
                    .collect(),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use koinos_protocol::BlockHeader;

    #[test]
    fn block_entries_decode_as_blocks_or_block_items() {
        let block = Block {
            id: vec![0x12, 0x20, 1],
            header: Some(BlockHeader {
                height: 7,
                ..Default::default()
            }),
            ..Default::default()
        };
        let bytes = block.encode_to_vec();
        assert_eq!(decode_block(&bytes).unwrap(), block);
        let item = BlockItem {
            block_id: block.id.clone(),
            block_height: 7,
            block: Some(block.clone()),
            receipt: None,
        };
        assert_eq!(decode_block(&item.encode_to_vec()).unwrap(), block);
        assert!(matches!(
            decode_block(&[0xff, 0xff, 0xff]),
            Err(PeerError::Malformed(_))
        ));
    }
}
