//! `koinos-contract-meta-store`: contract ABIs by contract id, from uploads in accepted blocks.
use koinos_services::contract_meta_store::{SERVICE, run};
use koinos_services::runtime;
use koinos_services::storage::StoreArgs;

fn main() -> std::process::ExitCode {
    runtime::run::<StoreArgs, _, _>(SERVICE, run)
}
