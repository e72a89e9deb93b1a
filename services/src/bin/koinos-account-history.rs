//! `koinos-account-history`: the blocks and transactions that touched each address.
use koinos_services::account_history::{AccountHistoryArgs, SERVICE, run};
use koinos_services::runtime;

fn main() -> std::process::ExitCode {
    runtime::run::<AccountHistoryArgs, _, _>(SERVICE, run)
}
