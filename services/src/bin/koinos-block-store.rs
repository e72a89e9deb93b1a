//! `koinos-block-store`: every accepted block with its receipt, by id and by height.
use koinos_services::block_store::{SERVICE, run};
use koinos_services::runtime;
use koinos_services::storage::StoreArgs;

fn main() -> std::process::ExitCode {
    runtime::run::<StoreArgs, _, _>(SERVICE, run)
}
