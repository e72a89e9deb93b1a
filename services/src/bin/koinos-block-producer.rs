//! `koinos-block-producer`: the federated block producer.
use koinos_services::block_producer::service::{ProducerArgs, run};
use koinos_services::runtime;

fn main() -> std::process::ExitCode {
    runtime::run::<ProducerArgs, _, _>("block_producer", run)
}
