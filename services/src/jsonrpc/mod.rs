//! The JSON-RPC gateway (`koinos-jsonrpc`): HTTP JSON-RPC 2.0 in front of the microservices'
//! AMQP RPC, wire-compatible with the official gateway (protocol reference §5.1).
//!
//! A request `{"jsonrpc":"2.0","id":…,"method":"chain.get_head_info","params":{…}}` is
//! validated ([`envelope`]), its method name resolved and checked against the whitelist and
//! blacklist ([`method`]), its params turned into the protobuf `<service>_request`, sent to
//! `koinos.rpc.<service>`, and the `<service>_response` written back as Koinos JSON.

pub mod config;
pub mod envelope;
pub mod method;
