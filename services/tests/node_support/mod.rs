//! A devnet of our six binaries as processes, on a RabbitMQ vhost of its own (the queue names
//! are fixed by the protocol, so tests sharing a vhost would steal each other's requests).
//! Needs the broker on 127.0.0.1:5672 and `rabbitmqctl` (scripts/ensure-rabbitmq.sh); fails
//! loudly without them.

#![allow(dead_code)] // each test file uses a different part

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use koinos_services::devnet::launcher::Node;
use koinos_services::devnet::{self, DevnetInfo, DevnetSpec, http_client};
use serde_json::Value;

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

/// A vhost for one test, deleted on drop.
pub struct Vhost(pub String);

impl Vhost {
    pub fn create(test: &str) -> Self {
        let name = format!("koinos-test-{test}-{}", std::process::id());
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

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.0)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.0])
            .output();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A running devnet (fields drop in order: node stopped, then vhost and files removed).
pub struct TestNet {
    pub node: Node,
    pub info: DevnetInfo,
    pub rpc: SocketAddr,
    pub vhost: Vhost,
    pub dir: tempfile::TempDir,
}

impl TestNet {
    /// Writes a devnet producing every `interval_ms` and starts its six services.
    pub fn start(test: &str, interval_ms: u64) -> Self {
        let vhost = Vhost::create(test);
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let spec = DevnetSpec {
            amqp: vhost.amqp_url(),
            listen: format!("127.0.0.1:{port}"),
            block_interval_ms: interval_ms,
            ..DevnetSpec::default()
        };
        let info = devnet::init(dir.path(), &spec).expect("devnet init");
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_koinos-chain"))
            .parent()
            .expect("binary directory");
        let mut node = Node::new(dir.path(), bin_dir);
        node.start_all().expect("start the services");
        let rpc = SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            node,
            info,
            rpc,
            vhost,
            dir,
        }
    }

    /// Panics with the services' logs.
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.node.log_tail(40));
    }

    pub async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        http_client::call(self.rpc, method, params).await
    }

    /// Waits until the head reaches `height` (services must stay up meanwhile).
    pub async fn wait_height(&mut self, height: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut last = 0;
        while Instant::now() < deadline {
            let exited = self.node.exited();
            if !exited.is_empty() {
                self.fail(&format!("services exited: {exited:?}"));
            }
            if let Ok(h) = http_client::head_height(self.rpc).await {
                last = h;
                if h >= height {
                    return h;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.fail(&format!(
            "head stayed at {last}, expected {height} within {timeout:?}"
        ));
    }

    /// Head info (`chain.get_head_info` result).
    pub async fn head(&self) -> Value {
        match self
            .call("chain.get_head_info", serde_json::json!({}))
            .await
        {
            Ok(info) => info,
            Err(error) => self.fail(&format!("get_head_info: {error}")),
        }
    }

    /// Blocks `1..=count` on the current head's chain, from block_store.
    pub async fn blocks(&self, count: u64) -> Vec<Value> {
        let head = self.head().await;
        let params = serde_json::json!({
            "head_block_id": head["head_topology"]["id"], "ancestor_start_height": 1,
            "num_blocks": count, "return_block": true, "return_receipt": false,
        });
        match self.call("block_store.get_blocks_by_height", params).await {
            Ok(result) => result["block_items"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            Err(error) => self.fail(&format!("get_blocks_by_height: {error}")),
        }
    }

    /// Asserts that `items` are blocks 1..=n, each linked to the previous one.
    pub fn assert_linked(&self, items: &[Value]) {
        let mut previous = format!("0x1220{}", "0".repeat(64));
        for (i, item) in items.iter().enumerate() {
            let height: u64 = item["block_height"]
                .as_str()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            if height != i as u64 + 1 {
                self.fail(&format!("block item {i} has height {height}"));
            }
            if item["block"]["header"]["previous"] != previous.as_str() {
                self.fail(&format!(
                    "block {height} does not link to its parent {previous}"
                ));
            }
            if item["block"]["id"] != item["block_id"] {
                self.fail(&format!("block {height}: id mismatch"));
            }
            previous = item["block_id"].as_str().unwrap_or_default().to_owned();
        }
    }
}
