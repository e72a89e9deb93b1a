//! Flags and `config.yml`, compatible with the official services.
//!
//! Sources, highest first: command line (or its `KOINOS_*` environment variable), the
//! service's section of `<basedir>/config.yml`, its `global` section, the default. Keys are
//! the official kebab-case names (`amqp`, `log-level`, `instance-id`, `jobs`, ...); unknown
//! keys are ignored because `global` holds options of every service.
//!
//! A service adds its own options as a struct deriving `clap::Args`, `serde::Serialize` and
//! `serde::Deserialize` with `#[serde(rename_all = "kebab-case")]` and `Option` fields (a
//! `None` flag does not override the file); see [`ServiceArgs`].

use crate::mq;
use clap::{ArgMatches, Args, Command, FromArgMatches};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_yaml::{Mapping, Value};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default AMQP URL of the official services.
pub const DEFAULT_AMQP: &str = "amqp://guest:guest@localhost:5672/";
/// Default admin (metrics/health) address.
pub const DEFAULT_METRICS_ADDRESS: &str = "0.0.0.0:9100";
/// Accepted `log-level` values (the official ones; `warning` and `fatal` map to tracing's).
pub const LOG_LEVELS: [&str; 7] = [
    "trace", "debug", "info", "warn", "warning", "error", "fatal",
];

/// The options every service takes.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommonArgs {
    /// Koinos base directory: holds config.yml and the services' data [default: ~/.koinos]
    #[arg(short = 'd', long, env = "KOINOS_BASEDIR")]
    #[serde(skip)]
    pub basedir: Option<PathBuf>,
    /// AMQP server URL [default: amqp://guest:guest@localhost:5672/]
    #[arg(short = 'a', long, env = "KOINOS_AMQP")]
    pub amqp: Option<String>,
    /// CA bundle (PEM) an amqps:// broker's certificate must chain to [default: the system roots]
    #[arg(long, env = "KOINOS_AMQP_CA_FILE")]
    pub amqp_ca_file: Option<PathBuf>,
    /// Log level: trace, debug, info, warn, error (RUST_LOG, when set, wins) [default: info]
    #[arg(short = 'l', long, env = "KOINOS_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Name of this instance in logs and AMQP connection names [default: random]
    #[arg(short = 'i', long, env = "KOINOS_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Requests handled concurrently (and AMQP prefetch) [default: max(2, CPUs)]
    #[arg(short = 'j', long, env = "KOINOS_JOBS")]
    pub jobs: Option<u64>,
    /// Address of the /metrics, /healthz and /readyz endpoints [default: 0.0.0.0:9100]
    #[arg(long, env = "KOINOS_METRICS_ADDRESS")]
    pub metrics_address: Option<String>,
    /// The RPC queue to serve, e.g. a second instance on a queue of its own (flag or
    /// environment only: in config.yml's `global` it would send every service to one queue)
    /// [default: koinos.rpc.<service>]
    #[arg(long, env = "KOINOS_RPC_QUEUE")]
    #[serde(skip)]
    pub rpc_queue: Option<String>,
}

/// A service's own options: clap flags that are also config keys.
pub trait ServiceArgs:
    Args + FromArgMatches + Serialize + DeserializeOwned + Send + 'static
{
}
impl<T: Args + FromArgMatches + Serialize + DeserializeOwned + Send + 'static> ServiceArgs for T {}

/// A service without options of its own.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct NoArgs {}

/// The resolved configuration of one service process.
#[derive(Debug, Clone)]
pub struct Settings<A> {
    /// The service name (`block_store`), also its config section and queue suffix.
    pub service: &'static str,
    /// The base directory (absolute).
    pub basedir: PathBuf,
    /// The config file read, if one exists.
    pub config_file: Option<PathBuf>,
    /// AMQP URL (validated).
    pub amqp: String,
    /// The roots of an `amqps://` broker (`amqp-ca-file`, read and checked); `None`: the system's.
    pub amqp_ca: Option<mq::CaBundle>,
    /// Normalized tracing level: trace, debug, info, warn or error.
    pub log_level: String,
    /// This instance's id.
    pub instance_id: String,
    /// Concurrent requests (>= 1).
    pub jobs: usize,
    /// Admin HTTP address.
    pub metrics_address: SocketAddr,
    /// The RPC queue served (`rpc-queue`, default `koinos.rpc.<service>`).
    pub rpc_queue: String,
    /// The service's own options after precedence.
    pub args: A,
}

impl<A> Settings<A> {
    /// `<basedir>/<service>`, where the service keeps its data.
    pub fn service_dir(&self) -> PathBuf {
        self.basedir.join(self.service)
    }
}

/// Why the configuration is unusable (the process exits 64 before any network I/O).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad command line (also `--help` / `--version`, which are not failures).
    #[error("{0}")]
    Cli(#[from] clap::Error),
    /// The config file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid YAML of the expected shape.
    #[error("{path}: {reason}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A value has the wrong type or is out of range.
    #[error("invalid `{key}` {value:?}: {reason}")]
    Invalid {
        /// The config key / flag name.
        key: &'static str,
        /// The offending value.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    /// True for `--help` and `--version`, which print and exit 0.
    pub fn is_informational(&self) -> bool {
        matches!(self, ConfigError::Cli(e) if matches!(e.kind(),
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion))
    }
}

/// Parses `argv` (including the program name) and `config.yml` into [`Settings`].
pub fn load<A: ServiceArgs>(
    service: &'static str,
    argv: impl IntoIterator<Item = impl Into<OsString> + Clone>,
) -> Result<Settings<A>, ConfigError> {
    // Once per process; clap (without its `string` feature) wants a 'static name.
    let name: &'static str = Box::leak(format!("koinos-{}", service.replace('_', "-")).into());
    let command = Command::new(name)
        .about(format!("Koinos {service} service"))
        .version(env!("CARGO_PKG_VERSION"));
    let matches = A::augment_args(CommonArgs::augment_args(command)).try_get_matches_from(argv)?;
    let (cli, cli_service) = from_matches::<A>(&matches)?;

    let basedir = absolute(cli.basedir.clone().unwrap_or_else(default_basedir));
    let (config_file, file) = read_config_file(&basedir)?;
    let sections = file
        .as_ref()
        .map(|(path, root)| sections(path, root, service))
        .transpose()?;

    // Lowest first: global, the service section, then the command line.
    let mut merged = Mapping::new();
    if let Some((global, section)) = sections {
        overlay(&mut merged, global);
        overlay(&mut merged, section);
    }
    overlay(&mut merged, to_mapping(&cli));
    overlay(&mut merged, to_mapping(&cli_service));
    let origin = config_file.as_deref().unwrap_or(Path::new("command line"));
    let common: CommonArgs = from_mapping(&merged, origin)?;
    let args: A = from_mapping(&merged, origin)?;
    let common = CommonArgs {
        rpc_queue: cli.rpc_queue,
        ..common
    };
    validate(service, basedir, config_file, common, args)
}

fn from_matches<A: ServiceArgs>(matches: &ArgMatches) -> Result<(CommonArgs, A), ConfigError> {
    Ok((
        CommonArgs::from_arg_matches(matches)?,
        A::from_arg_matches(matches)?,
    ))
}

fn validate<A>(
    service: &'static str,
    basedir: PathBuf,
    config_file: Option<PathBuf>,
    common: CommonArgs,
    args: A,
) -> Result<Settings<A>, ConfigError> {
    let amqp = common.amqp.unwrap_or_else(|| DEFAULT_AMQP.to_owned());
    let uri = mq::parse_url(&amqp).map_err(|err| ConfigError::Invalid {
        key: "amqp",
        value: String::new(),
        reason: err.to_string(),
    })?;
    let amqp_ca = amqp_ca(common.amqp_ca_file, &uri)?;
    let log_level = common.log_level.unwrap_or_else(|| "info".to_owned());
    let log_level = match log_level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_owned(),
        "fatal" => "error".to_owned(),
        level if LOG_LEVELS.contains(&level) => level.to_owned(),
        _ => {
            return Err(ConfigError::Invalid {
                key: "log-level",
                value: log_level,
                reason: format!("expected one of {}", LOG_LEVELS.join(", ")),
            });
        }
    };
    let jobs = match common.jobs {
        None => std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
        Some(jobs @ 1..=65535) => jobs as usize,
        Some(jobs) => {
            return Err(ConfigError::Invalid {
                key: "jobs",
                value: jobs.to_string(),
                reason: "must be between 1 and 65535".to_owned(),
            });
        }
    };
    let metrics_address = common
        .metrics_address
        .unwrap_or_else(|| DEFAULT_METRICS_ADDRESS.to_owned());
    let metrics_address = metrics_address
        .parse()
        .map_err(|err: std::net::AddrParseError| ConfigError::Invalid {
            key: "metrics-address",
            value: metrics_address.clone(),
            reason: format!("{err} (expected host:port, e.g. 0.0.0.0:9100)"),
        })?;
    let rpc_queue = match common.rpc_queue {
        None => mq::topology::rpc_queue(service),
        Some(queue) if queue.is_empty() || queue.len() > 255 || queue.starts_with("amq.") => {
            return Err(ConfigError::Invalid {
                key: "rpc-queue",
                value: queue,
                reason: "a queue name of 1 to 255 bytes, not starting with amq.".to_owned(),
            });
        }
        Some(queue) => queue,
    };
    let instance_id = common
        .instance_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(random_instance_id);
    Ok(Settings {
        service,
        basedir,
        config_file,
        amqp,
        amqp_ca,
        log_level,
        instance_id,
        jobs,
        metrics_address,
        rpc_queue,
        args,
    })
}

/// Reads `amqp-ca-file`. With an `amqp://` URL it is refused rather than ignored: whoever set
/// it meant TLS, and a plaintext connection would be a silent downgrade.
fn amqp_ca(file: Option<PathBuf>, uri: &mq::AMQPUri) -> Result<Option<mq::CaBundle>, ConfigError> {
    let Some(file) = file else {
        return Ok(None);
    };
    let invalid = |reason: String| ConfigError::Invalid {
        key: "amqp-ca-file",
        value: file.display().to_string(),
        reason,
    };
    if uri.scheme != mq::AMQPScheme::AMQPS {
        return Err(invalid("set, but the `amqp` URL is not amqps://".into()));
    }
    mq::CaBundle::from_file(&file)
        .map(Some)
        .map_err(|err| invalid(err.to_string()))
}

fn default_basedir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".koinos")
}

/// A relative base directory is taken from the current directory, like the C++ services.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

type ConfigFile = (Option<PathBuf>, Option<(PathBuf, Value)>);

/// Reads `config.yml` (or `config.yaml`); no file is not an error.
fn read_config_file(basedir: &Path) -> Result<ConfigFile, ConfigError> {
    for name in ["config.yml", "config.yaml"] {
        let path = basedir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(ConfigError::ReadFile { path, source }),
        };
        let root: Value = serde_yaml::from_str(&text).map_err(|err| ConfigError::ParseFile {
            path: path.clone(),
            reason: err.to_string(),
        })?;
        return Ok((Some(path.clone()), Some((path, root))));
    }
    Ok((None, None))
}

/// The `global` and service sections of the file (either may be absent or empty).
fn sections(path: &Path, root: &Value, service: &str) -> Result<(Mapping, Mapping), ConfigError> {
    let not_mapping = |what: &str| ConfigError::ParseFile {
        path: path.to_owned(),
        reason: format!("{what} must be a mapping of option names to values"),
    };
    let root = match root {
        Value::Null => return Ok((Mapping::new(), Mapping::new())),
        Value::Mapping(root) => root,
        _ => return Err(not_mapping("the file")),
    };
    let section = |name: &str| match root.get(name) {
        None | Some(Value::Null) => Ok(Mapping::new()),
        Some(Value::Mapping(m)) => Ok(m.clone()),
        Some(_) => Err(not_mapping(&format!("section `{name}`"))),
    };
    Ok((section("global")?, section(service)?))
}

fn to_mapping<T: Serialize>(value: &T) -> Mapping {
    match serde_yaml::to_value(value) {
        Ok(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    }
}

/// Copies the non-null entries of `over` into `base`.
fn overlay(base: &mut Mapping, over: Mapping) {
    for (key, value) in over {
        if !value.is_null() {
            base.insert(key, value);
        }
    }
}

/// Deserializes the merged options; an error names the offending key.
fn from_mapping<T: DeserializeOwned>(merged: &Mapping, origin: &Path) -> Result<T, ConfigError> {
    let parse = |m: Mapping| serde_yaml::from_value::<T>(Value::Mapping(m));
    parse(merged.clone()).map_err(|err| {
        // Every option is optional, so the key that fails alone is the culprit.
        let culprit = merged.iter().find_map(|(key, value)| {
            let single = Mapping::from_iter([(key.clone(), value.clone())]);
            let name = key.as_str().unwrap_or("?");
            parse(single).err().map(|e| format!("`{name}`: {e}"))
        });
        ConfigError::ParseFile {
            path: origin.to_owned(),
            reason: culprit.unwrap_or_else(|| err.to_string()),
        }
    })
}

fn random_instance_id() -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(5)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
