//! The Koinos services: a shared runtime (config, messaging, telemetry) and one module per
//! service; each binary in `src/bin` is a thin wrapper over this library.
//!
//! Foundation: [`mq`] (the only module that talks AMQP) and [`runtime`] (flags, config,
//! telemetry, admin endpoint, shutdown). One `pub mod` line per module.
pub mod account_history;
pub mod block_producer;
pub mod block_store;
pub mod chain;
pub mod contract_meta_store;
pub mod devnet;
pub mod jsonrpc;
pub mod mempool;
pub mod mq;
pub mod runtime;
pub mod storage;
pub mod transaction_store;
