//! The Koinos protocol: protobuf messages, Koinos JSON, ids and cryptography.

pub mod json;
pub mod pb;

pub use pb::koinos::BlockTopology;
pub use pb::koinos::protocol::{
    Block, BlockHeader, BlockReceipt, EventData, Operation, Transaction, TransactionHeader,
    TransactionReceipt,
};
pub use pb::koinos::{broadcast, chain, rpc};
pub use pb::{FILE_DESCRIPTOR_SET, descriptor_pool};
