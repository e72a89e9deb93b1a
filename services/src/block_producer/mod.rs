//! The block producer (`koinos-block-producer`, docs/protocol.md "Block producer"): federated,
//! or proof of burn ([`pob`], docs/protocol.md "Proof of Burn devnet").
//!
//! Every interval (official: 5 s after the previous round) it asks the chain for the head,
//! fetches pending transactions from the mempool and the block resource limits, fills the
//! block within the lower/upper resource bounds ([`fill`]), seals it (transaction merkle root,
//! id, signature with the key from `private-key-file`, [`key`]) and sends `propose_block`;
//! transactions the chain reports as failing are dropped and the block is re-proposed
//! ([`producer`]). With `gossip-production` (default true) it produces only while p2p reports
//! gossip enabled; a single-node devnet sets it to false.

pub mod fill;
pub mod key;
pub mod pob;
pub mod producer;
pub mod service;

pub use key::ProducerKey;
pub use producer::{Algorithm, Producer, ProducerOptions};
pub use service::ProducerArgs;
