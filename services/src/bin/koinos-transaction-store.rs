//! `koinos-transaction-store`: transactions by id, with the blocks that contain them.
use koinos_services::runtime;
use koinos_services::storage::StoreArgs;
use koinos_services::transaction_store::{SERVICE, run};

fn main() -> std::process::ExitCode {
    runtime::run::<StoreArgs, _, _>(SERVICE, run)
}
