//! `koinos-devnet`: write a private Koinos network (`init`) and run a producing node of our
//! eight services on the local RabbitMQ (`run`). See `scripts/devnet.sh` for the one-step form.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use koinos_services::devnet::{self, Consensus, DevnetSpec, DevnetToken};

#[derive(Parser)]
#[command(
    name = "koinos-devnet",
    version,
    about = "Koinos devnet: write and run a private network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write genesis (new genesis key, token contract, initial balances), keys and config.yml
    Init {
        /// Base directory of the devnet
        #[arg(short = 'd', long)]
        basedir: PathBuf,
        /// AMQP URL the services use
        #[arg(
            short = 'a',
            long,
            default_value = "amqp://guest:guest@127.0.0.1:5672/"
        )]
        amqp: String,
        /// JSON-RPC listen address
        #[arg(short = 'L', long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Milliseconds between blocks
        #[arg(long, default_value_t = 1000)]
        block_interval_ms: u64,
        /// Initial token balance (base units) of the funded account and the genesis key
        #[arg(long, default_value_t = DevnetSpec::default().initial_balance)]
        initial_balance: u64,
        /// KOIN's implementation: `wasm` (the KCS-4 token contract, run by the WebAssembly VM
        /// as on any Koinos chain) or `native` (our chain's Rust token: faster, our chain only)
        #[arg(long, default_value = "wasm")]
        token: DevnetToken,
        /// How blocks are signed: `federated` (by the genesis key) or `pob` (proof of burn: our
        /// pob contract checks each block's VRF proof against the producer's VHP)
        #[arg(long, default_value = "federated")]
        consensus: Consensus,
    },
    /// Run chain, block_store, mempool, transaction_store, contract_meta_store, account_history, block_producer and jsonrpc
    Run {
        /// Base directory written by `init`
        #[arg(short = 'd', long)]
        basedir: PathBuf,
        /// Directory of the service binaries [default: this executable's directory]
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Print only the ready line, not every block
        #[arg(long)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Init {
            basedir,
            amqp,
            listen,
            block_interval_ms,
            initial_balance,
            token,
            consensus,
        } => {
            let spec = DevnetSpec {
                amqp,
                listen,
                block_interval_ms,
                initial_balance,
                token,
                consensus,
            };
            devnet::init(&basedir, &spec).map(|info| {
                println!("devnet written to {}", basedir.display());
                println!("  chain id:        {}", info.chain_id);
                println!("  producer:        {}", info.producer_address);
                println!(
                    "  funded account:  {} (WIF in keys/funded.wif)",
                    info.funded_account_address
                );
                println!(
                    "  token contract:  {} ({}, {})",
                    info.token_contract_id, info.token_symbol, info.token
                );
                if let (Some(pob), Some(vhp)) = (&info.pob_contract_id, &info.vhp_contract_id) {
                    println!("  consensus:       pob (pob {pob}, VHP {vhp})");
                }
                println!("  JSON-RPC:        {}", info.rpc_url);
            })
        }
        Command::Run {
            basedir,
            bin_dir,
            quiet,
        } => {
            let bin_dir = bin_dir.unwrap_or_else(devnet::default_bin_dir);
            tokio::runtime::Runtime::new()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(devnet::runner::run(&basedir, &bin_dir, quiet)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("koinos-devnet: {error:#}");
            ExitCode::FAILURE
        }
    }
}
