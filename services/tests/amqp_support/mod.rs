//! Shared helpers of the broker tests: they need RabbitMQ on 127.0.0.1:5672 and fail loudly
//! without it (`bash scripts/ensure-rabbitmq.sh` starts one).
#![allow(dead_code)] // each test binary uses a different subset

use koinos_services::mq::{Connection, ServerOptions};
use std::time::Duration;

pub const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/";

/// A connected supervised connection, or a panic that says how to get a broker.
pub async fn connect() -> Connection {
    let conn = Connection::connect_supervised(BROKER).expect("valid URL");
    conn.wait_connected(Duration::from_secs(15)).await.expect(
        "no RabbitMQ broker answers on 127.0.0.1:5672 (guest/guest): \
         run `bash scripts/ensure-rabbitmq.sh` first",
    );
    conn
}

/// A service or topic name no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    format!(
        "test_{name}_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Server options whose queue the broker deletes a minute after the test stops using it.
pub fn ephemeral(jobs: usize) -> ServerOptions {
    ServerOptions {
        idle_queue_expiry: Some(Duration::from_secs(60)),
        ..ServerOptions::new(jobs)
    }
}

/// Lets a freshly spawned server declare its queue and start consuming.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
