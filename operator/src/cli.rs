//! Command line: every flag also reads `KOINOS_OPERATOR_<FLAG>` from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::metrics_api::ServingCert;

#[derive(Debug, Parser)]
#[command(
    name = "koinos-operator",
    version,
    about = "Kubernetes operator for Koinos node clusters"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the `run` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the KoinosCluster CustomResourceDefinition as YAML.
    Crd,
    /// Print every child object of a KoinosCluster manifest as YAML, without a cluster.
    Render(RenderArgs),
    /// Run the controller.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// KoinosCluster manifest (`-` for stdin).
    #[arg(short = 'f', long = "file", env = "KOINOS_OPERATOR_FILE")]
    pub file: PathBuf,
    /// Namespace for a manifest that has none.
    #[arg(
        short = 'n',
        long,
        env = "KOINOS_OPERATOR_NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
}

#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Watch only this namespace (default or empty: all namespaces).
    #[arg(
        long = "watch-namespace",
        visible_alias = "namespace",
        env = "KOINOS_OPERATOR_WATCH_NAMESPACE"
    )]
    pub namespace: Option<String>,
    /// Address of the admin server (`/metrics`, `/healthz`, `/readyz`).
    #[arg(
        long,
        env = "KOINOS_OPERATOR_ADMIN_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub admin_addr: SocketAddr,
    /// Elect a leader on a coordination.k8s.io Lease so that several replicas are safe.
    #[arg(long, env = "KOINOS_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the leader election Lease.
    #[arg(
        long,
        env = "KOINOS_OPERATOR_LEASE_NAME",
        default_value = "koinos-operator-leader"
    )]
    pub lease_name: String,
    /// Namespace of the Lease (default: `$POD_NAMESPACE`, `--namespace`, the service account namespace, or `default`).
    #[arg(long, env = "KOINOS_OPERATOR_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Identity of this replica in the Lease and in Events (default: `$POD_NAME`, `$HOSTNAME`).
    #[arg(long, env = "KOINOS_OPERATOR_POD_NAME")]
    pub identity: Option<String>,
    /// Lease duration.
    #[arg(long, env = "KOINOS_OPERATOR_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// Requeue interval of a healthy cluster (drift detection).
    #[arg(long, env = "KOINOS_OPERATOR_RESYNC", default_value = "300s", value_parser = parse_duration)]
    pub resync: Duration,
    /// How often a running cluster's chain head (`status.chain`) and queue depths are read
    /// from its broker.
    #[arg(long, env = "KOINOS_OPERATOR_CHAIN_STATUS_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub chain_status_interval: Duration,
    /// Log format.
    #[arg(long, env = "KOINOS_OPERATOR_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Serve `external.metrics.k8s.io/v1beta1` (RPC queue depths for the HPAs) over HTTPS on
    /// this address, on every replica (unset: off).
    #[arg(long, env = "KOINOS_OPERATOR_METRICS_API_ADDR")]
    pub metrics_api_addr: Option<SocketAddr>,
    /// PEM serving certificate (chain) of the metrics API (default: self-signed at start).
    #[arg(
        long,
        env = "KOINOS_OPERATOR_METRICS_API_TLS_CERT_FILE",
        requires = "metrics_api_tls_key_file"
    )]
    pub metrics_api_tls_cert_file: Option<PathBuf>,
    /// PEM private key of `--metrics-api-tls-cert-file`.
    #[arg(
        long,
        env = "KOINOS_OPERATOR_METRICS_API_TLS_KEY_FILE",
        requires = "metrics_api_tls_cert_file"
    )]
    pub metrics_api_tls_key_file: Option<PathBuf>,
}

impl RunArgs {
    /// The watched namespace; an empty value (as a Helm value may render) means all.
    pub fn watch_namespace(&self) -> Option<String> {
        self.namespace.clone().filter(|ns| !ns.trim().is_empty())
    }

    /// The metrics API's serving certificate: the given files, else a self-signed one (the
    /// chart's APIService then skips verification, as with metrics-server).
    pub fn metrics_api_cert(&self) -> ServingCert {
        match (
            &self.metrics_api_tls_cert_file,
            &self.metrics_api_tls_key_file,
        ) {
            (Some(cert), Some(key)) => ServingCert::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => ServingCert::SelfSigned {
                names: std::iter::once("localhost".to_string())
                    .chain(std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
                    .collect(),
            },
        }
    }
}

/// `90s`, `5m`, `1h` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        "ms" => return Ok(Duration::from_millis(value)),
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn chain_status_interval_defaults_to_30_seconds_and_reads_the_environment() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Run(run) => run.chain_status_interval,
            other => panic!("{other:?}"),
        };
        assert_eq!(parse(&["koinos-operator", "run"]), Duration::from_secs(30));
        assert_eq!(
            parse(&["koinos-operator", "run", "--chain-status-interval", "5s"]),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn empty_watch_namespace_means_all() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Run(run) => run,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            parse(&["koinos-operator", "run", "--watch-namespace", ""]).watch_namespace(),
            None
        );
        assert_eq!(
            parse(&["koinos-operator", "run", "--namespace", "koinos"]).watch_namespace(),
            Some("koinos".to_string())
        );
        assert!(!parse(&["koinos-operator", "run", "--leader-election", "false"]).leader_election);
    }

    #[test]
    fn the_metrics_api_is_off_unless_an_address_is_given() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args) {
            Ok(Cli {
                command: Command::Run(run),
            }) => Ok(run),
            Ok(other) => panic!("{other:?}"),
            Err(error) => Err(error.kind()),
        };
        let run = parse(&["koinos-operator", "run"]).unwrap();
        assert_eq!(run.metrics_api_addr, None);
        let run = parse(&[
            "koinos-operator",
            "run",
            "--metrics-api-addr",
            "0.0.0.0:6443",
        ])
        .unwrap();
        assert_eq!(run.metrics_api_addr, Some("0.0.0.0:6443".parse().unwrap()));
        assert!(matches!(
            run.metrics_api_cert(),
            ServingCert::SelfSigned { names } if names[0] == "localhost"
        ));
        let run = parse(&[
            "koinos-operator",
            "run",
            "--metrics-api-tls-cert-file",
            "/tls/tls.crt",
            "--metrics-api-tls-key-file",
            "/tls/tls.key",
        ])
        .unwrap();
        assert_eq!(
            run.metrics_api_cert(),
            ServingCert::Files {
                cert: "/tls/tls.crt".into(),
                key: "/tls/tls.key".into()
            }
        );
        assert_eq!(
            parse(&[
                "koinos-operator",
                "run",
                "--metrics-api-tls-cert-file",
                "/c"
            ])
            .err(),
            Some(clap::error::ErrorKind::MissingRequiredArgument)
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
