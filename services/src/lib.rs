//! The Koinos services: a shared runtime (config, messaging, telemetry) and one module per
//! service; each binary in `src/bin` is a thin wrapper over this library.
pub mod storage;
pub mod jsonrpc;
