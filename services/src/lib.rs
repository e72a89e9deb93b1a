//! The Koinos services: a shared runtime (config, messaging, telemetry) and one module per
//! service; each binary in `src/bin` is a thin wrapper over this library.
//!
//! Foundation: [`mq`] (the `koinos-mq` crate, the only code that talks AMQP, re-exported so
//! that services write `crate::mq::…`) and [`runtime`] (flags, config, telemetry, admin
//! endpoint, shutdown). One `pub mod` line per module.
pub use koinos_mq as mq;

pub mod account_history;
pub mod block_producer;
pub mod block_store;
pub mod chain;
pub mod contract_meta_store;
pub mod devnet;
pub mod grpc;
pub mod jsonrpc;
pub mod mempool;
pub mod p2p;
pub mod runtime;
pub mod storage;
pub mod transaction_store;
