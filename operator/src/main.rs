use clap::Parser;
use koinos_operator::cli::{Cli, Command};

fn main() {
    match Cli::parse().command {
        Command::Crd => print!("{}", koinos_operator::crd::crd_yaml()),
    }
}
