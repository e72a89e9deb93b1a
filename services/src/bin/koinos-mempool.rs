//! `koinos-mempool`: pending transactions per fork, in memory.
use koinos_services::mempool::{MempoolArgs, SERVICE, run};
use koinos_services::runtime;

fn main() -> std::process::ExitCode {
    runtime::run::<MempoolArgs, _, _>(SERVICE, run)
}
