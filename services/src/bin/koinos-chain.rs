//! `koinos-chain`: block and transaction validation, fork choice and state (native KCS-4 token).
use koinos_services::chain::app::{ChainArgs, run};
use koinos_services::runtime;

fn main() -> std::process::ExitCode {
    runtime::run::<ChainArgs, _, _>("chain", run)
}
