//! The Koinos protocol: protobuf messages, Koinos JSON, ids and cryptography.
//!
//! - [`pb`]: generated protobuf types (`pb::koinos::protocol::Block`, ...) and the descriptor
//!   pool;
//! - [`json`]: Koinos JSON, driven by the `koinos.btype` option;
//! - [`crypto`]: multihash, secp256k1 signatures, addresses, WIF;
//! - [`ids`], [`merkle`], [`nonce`], [`genesis`]: ids, merkle roots, nonces, chain id;
//! - [`devnet`]: the devnet genesis (native KCS-4 token, initial balances);
//! - [`seal`]: fill in and check roots, ids and signatures of transactions and blocks;
//! - [`p2p_identity`]: the p2p node key from a seed and its libp2p peer id.

pub mod crypto;
pub mod devnet;
pub mod genesis;
pub mod ids;
pub mod json;
pub mod merkle;
pub mod nonce;
pub mod p2p_identity;
pub mod pb;
pub mod seal;

pub use pb::koinos::BlockTopology;
pub use pb::koinos::protocol::{
    Block, BlockHeader, BlockReceipt, EventData, Operation, Transaction, TransactionHeader,
    TransactionReceipt,
};
pub use pb::koinos::{broadcast, chain, rpc};
pub use pb::{FILE_DESCRIPTOR_SET, descriptor_pool};
