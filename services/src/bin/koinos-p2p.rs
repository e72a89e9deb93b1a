//! `koinos-p2p`: the peer-to-peer node (gossip, sync, peer RPC) over libp2p.
use koinos_services::p2p::config::P2pArgs;
use koinos_services::p2p::service::run;
use koinos_services::runtime;

fn main() -> std::process::ExitCode {
    runtime::run::<P2pArgs, _, _>("p2p", run)
}
