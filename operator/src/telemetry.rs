//! Logging: `tracing` with a `RUST_LOG` filter, text or JSON.

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset. lapin reports every server-closed channel at ERROR, including the
/// expected 404 of a passive declare of a queue no service has declared yet (the broker
/// reader's depth probe, every status interval); connection errors still show.
const DEFAULT_FILTER: &str = "info,kube=warn,lapin::channel=off";

pub fn init(format: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(error) = result {
        eprintln!("logging already initialised: {error}");
    }
}
