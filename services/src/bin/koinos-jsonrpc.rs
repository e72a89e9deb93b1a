//! `koinos-jsonrpc`: the HTTP JSON-RPC gateway in front of the microservices.
use koinos_services::jsonrpc::service::{JsonRpcArgs, run};
use koinos_services::runtime;

fn main() -> std::process::ExitCode {
    runtime::run::<JsonRpcArgs, _, _>("jsonrpc", run)
}
