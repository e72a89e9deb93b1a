//! Logging: `tracing` to stderr, filtered by `RUST_LOG` when set, else by `log-level`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call (tests, several services in one process) is a
/// no-op.
pub fn init(log_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(log_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
