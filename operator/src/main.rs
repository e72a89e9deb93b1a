use anyhow::Context;
use clap::Parser;
use koinos_operator::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => print!("{}", koinos_operator::crd::crd_yaml()),
        Command::Render(args) => {
            let text = if args.file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(&args.file)
                    .with_context(|| format!("reading {}", args.file.display()))?
            };
            print!(
                "{}",
                koinos_operator::render::render(&text, &args.namespace)?
            );
        }
        Command::Run(args) => {
            koinos_operator::telemetry::init(&args.log_format);
            let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
            runtime.block_on(koinos_operator::run(args))?;
        }
    }
    Ok(())
}
