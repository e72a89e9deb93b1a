//! `koinos-p2p`: the Koinos peer-to-peer node (rust-libp2p), wire-compatible with the official
//! Go node. `PEER_RPC.md` records the peer RPC's byte layout.
//!
//! - [`msgpack`]: the MessagePack subset the peer RPC uses (ugorji's default handle);
//! - [`peer_rpc`]: `/koinos/peerrpc/1.0.0` messages and one call's exchange over a stream.
pub mod msgpack;
pub mod peer_rpc;
