//! The JSON-RPC gateway (`koinos-jsonrpc`): HTTP JSON-RPC 2.0 in front of the microservices'
//! AMQP RPC, wire-compatible with the official gateway (docs/protocol.md "JSON-RPC gateway").
//!
//! A request `{"jsonrpc":"2.0","id":…,"method":"chain.get_head_info","params":{…}}` is
//! validated ([`envelope`]), its method name resolved against the descriptors
//! ([`translate`]) and checked against the whitelist and blacklist ([`method`]), its params
//! parsed as Koinos JSON ([`koinos_protocol::json`]) into the protobuf `<service>_request`, sent to
//! `koinos.rpc.<service>` ([`gateway`], over [`mq`](crate::mq) in production), and the
//! `<service>_response` written back as Koinos JSON. [`http`] is the axum front.

pub mod config;
pub mod envelope;
pub mod gateway;
pub mod http;
pub mod method;
pub mod service;
pub mod transcode;
pub mod translate;

#[cfg(test)]
mod tests;
