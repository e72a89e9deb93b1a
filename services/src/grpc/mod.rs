//! `koinos-grpc`: the gRPC gateway. It serves the service `koinos.services.koinos` (one unary
//! method per client-facing microservice RPC, as the official gateway does) on
//! `0.0.0.0:50051`, and relays each call to `koinos.rpc.<service>` over AMQP.
//!
//! A call is relayed without decoding its message: the request bytes (a `<method>_request`)
//! become the method's field of the `<service>_request` envelope, and the method's field of the
//! `<service>_response` envelope is returned as it is ([`methods`]). The method table comes from
//! the descriptor set, so it cannot drift from the `.proto` files. gRPC server reflection
//! serves the same descriptor set.
//!
//! Errors, as the official gateway answers them: a method outside the whitelist or inside the
//! blacklist is `PERMISSION_DENIED` ("method not whitelisted" / "method is blacklisted"); a
//! service's `error` is `INVALID_ARGUMENT` with the service's message; a reply with neither
//! the method's field nor an error is `INTERNAL` "unexpected response type".

pub mod access;
pub mod methods;
pub mod server;
pub mod service;
