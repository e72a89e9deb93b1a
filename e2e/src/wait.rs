//! Polling with a deadline: the control plane converges asynchronously.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Polls `check` until it returns `Ok(Some(value))`, failing after `timeout` with `what` and the
/// last observation (`Ok(None)` means "not yet"; `Err` is remembered as the last observation too,
/// because the API server may briefly refuse while a resource is being set up).
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => "condition not met yet".to_owned(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what} (last: {last})");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
