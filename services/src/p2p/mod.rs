//! `koinos-p2p`: the Koinos peer-to-peer node (rust-libp2p), wire-compatible with the official
//! Go node. `PEER_RPC.md` records the peer RPC's byte layout.
//!
//! - [`config`]: options (official names), checkpoints, the node identity;
//! - [`msgpack`], [`peer_rpc`]: `/koinos/peerrpc/1.0.0` (gorpc framing, ugorji MessagePack);
//! - [`node`]: the libp2p host (TCP, Noise, yamux, identify, gossipsub, raw streams) and the
//!   task owning it;
//! - [`gossip`]: topics, message ids, the gossip switch;
//! - [`sync`]: handshake, sync from each peer, the peer RPC server;
//! - [`scoring`]: peer error scores, disconnection and refusal;
//! - [`local`]: the chain and block_store calls; [`service`]: the process.
pub mod config;
pub mod gossip;
pub mod local;
pub mod msgpack;
pub mod node;
pub mod peer_rpc;
pub mod scoring;
pub mod service;
pub mod sync;
