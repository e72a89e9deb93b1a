//! A RabbitMQ vhost per test on the local broker (127.0.0.1:5672, through `rabbitmqctl`), for
//! the tests that read a real broker; they fail loudly without it (run
//! scripts/ensure-rabbitmq.sh).

use std::process::Command;
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio::time::Instant;

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl must be installed: run scripts/ensure-rabbitmq.sh");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed (is RabbitMQ running? run scripts/ensure-rabbitmq.sh): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A RabbitMQ vhost of one test, deleted on drop.
pub struct Vhost(pub String);

impl Vhost {
    pub fn create(test: &str) -> Self {
        let name = format!("koinos-operator-test-{test}-{}", std::process::id());
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

    /// [`Vhost::url`] without the credentials.
    pub fn endpoint(&self) -> String {
        format!("amqp://127.0.0.1:5672/{}", self.0)
    }

    /// Declares `queue` (durable, like a service's) and leaves `count` messages in it.
    pub async fn fill(&self, queue: &str, count: usize) {
        self.fill_more(queue, count, count).await;
    }

    /// Publishes `count` more messages into `queue` and waits until it holds `total`.
    pub async fn fill_more(&self, queue: &str, count: usize, total: usize) {
        let uri = koinos_mq::parse_url(&self.url()).unwrap();
        let conn = lapin::Connection::connect_uri(uri, Default::default())
            .await
            .expect("RabbitMQ on 127.0.0.1:5672 (run scripts/ensure-rabbitmq.sh)");
        let channel = conn.create_channel().await.unwrap();
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await
            .unwrap();
        for _ in 0..count {
            channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    b"request",
                    BasicProperties::default(),
                )
                .await
                .unwrap();
        }
        // Publishes are asynchronous: wait until the broker has queued them all.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let passive = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            let declared = channel
                .queue_declare(queue.into(), passive, FieldTable::default())
                .await
                .unwrap();
            if declared.message_count() as usize == total {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{queue}: {} of {total} queued",
                declared.message_count()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        conn.close(200, "filled".into()).await.unwrap();
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.0])
            .output();
    }
}

/// Connections the broker has open on `vhost`.
pub fn broker_connections(vhost: &Vhost) -> usize {
    let output = Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "vhost"])
        .output()
        .expect("rabbitmqctl");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.trim() == vhost.0)
        .count()
}
