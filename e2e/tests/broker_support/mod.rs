//! What the tests that run our services on the local RabbitMQ need: a vhost of their own
//! (127.0.0.1:5672 via `rabbitmqctl`) and the service binaries (built here with cargo, so they
//! are never stale). They fail loudly without RabbitMQ: run scripts/ensure-rabbitmq.sh.

#![allow(dead_code)] // each test file uses a different part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl must be installed: run scripts/ensure-rabbitmq.sh");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed (is RabbitMQ running on 127.0.0.1:5672? run \
         scripts/ensure-rabbitmq.sh): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A vhost for one test, deleted on drop (queue names are fixed by the protocol, so tests
/// sharing a vhost would read each other's queues).
pub struct Vhost(pub String);

impl Vhost {
    pub fn create(test: &str) -> Self {
        let name = format!("koinos-e2e-{test}-{}", std::process::id());
        rabbitmqctl(&["-q", "add_vhost", &name]);
        rabbitmqctl(&[
            "-q",
            "set_permissions",
            "-p",
            &name,
            "guest",
            ".*",
            ".*",
            ".*",
        ]);
        Self(name)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.0)
    }

    pub fn endpoint(&self) -> String {
        format!("amqp://127.0.0.1:5672/{}", self.0)
    }

    /// `count` messages on `queue` (declared durable, as a consumer would), published over the
    /// plain listener with confirms.
    pub async fn backlog(&self, queue: &str, count: u32) -> anyhow::Result<()> {
        use anyhow::Context;
        use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
        use lapin::types::FieldTable;
        use lapin::{BasicProperties, ConnectionProperties};

        let conn = lapin::Connection::connect(&self.url(), ConnectionProperties::default())
            .await
            .with_context(|| format!("connecting to {}", self.endpoint()))?;
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await?;
        for _ in 0..count {
            channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    b"{}",
                    BasicProperties::default(),
                )
                .await?
                .await?;
        }
        conn.close(0, "done".into()).await?;
        Ok(())
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.0])
            .output();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// The directory of this test's profile (`target/debug`), where cargo puts the binaries.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// Builds the service binaries `names` (cargo does nothing when they are fresh) and returns
/// their directory. Once per test process.
pub fn service_binaries(names: &[&str]) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--quiet",
            "-p",
            "koinos-services",
        ]);
        for name in names {
            command.args(["--bin", name]);
        }
        if dir.file_name().is_some_and(|p| p == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("running cargo build");
        assert!(status.success(), "building {names:?} failed");
        dir
    })
}
