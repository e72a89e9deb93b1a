//! The load of the real-pods queue-depth autoscaling tests: real `get_blocks_by_height`
//! requests (the chain's first 1000 blocks, as a block store answers them) published into an
//! RPC queue through a port-forward to the cluster's broker, 200 every 100 ms, until stopped.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use koinos_e2e::ControlPlane;
use koinos_e2e::real_pods::{PortForward, json_rpc};
use koinos_protocol::pb::koinos::rpc::block_store::{
    BlockStoreRequest, GetBlocksByHeightRequest, block_store_request,
};
use lapin::options::{BasicPublishOptions, QueuePurgeOptions};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use prost::Message;
use serde_json::json;
use tokio::task::JoinHandle;

pub struct Backlog {
    publisher: JoinHandle<Result<()>>,
    channel: Channel,
    connection: Connection,
    _broker: PortForward,
    queue: String,
    pub started: Instant,
}

impl Backlog {
    /// Publishes into `queue` of cluster `cluster` as `credentials` (user, password), for at
    /// most `limit`; `url` is the cluster's JSON-RPC, which names the head the requests start
    /// from.
    pub async fn start(
        cp: &ControlPlane,
        namespace: &str,
        cluster: &str,
        url: &str,
        queue: &str,
        (user, password): (String, String),
        limit: Duration,
    ) -> Result<Self> {
        let head = json_rpc(url, "chain.get_head_info", json!({}))?;
        let head_id = head["head_topology"]["id"]
            .as_str()
            .and_then(|id| id.strip_prefix("0x"))
            .context("head id")?;
        let request = BlockStoreRequest {
            request: Some(block_store_request::Request::GetBlocksByHeight(
                GetBlocksByHeightRequest {
                    head_block_id: hex::decode(head_id)?,
                    ancestor_start_height: 1,
                    num_blocks: 1000,
                    return_block: true,
                    return_receipt: true,
                },
            )),
        }
        .encode_to_vec();
        let broker = PortForward::start(cp, namespace, &format!("svc/{cluster}-rabbitmq"), 5672)?;
        let amqp = format!(
            "amqp://{user}:{password}@127.0.0.1:{}/%2f",
            broker.local_port
        );
        let connection = Connection::connect(&amqp, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        let started = Instant::now();
        let publishing = channel.clone();
        let routing_key = queue.to_string();
        let publisher = tokio::spawn(async move {
            // Replies go nowhere: the test only wants the queue to fill.
            let properties = BasicProperties::default()
                .with_content_type("application/octet-stream".into())
                .with_reply_to("koinos-e2e-unrouted-replies".into());
            while started.elapsed() < limit {
                for _ in 0..200 {
                    publishing
                        .basic_publish(
                            "koinos.rpc".into(),
                            routing_key.as_str().into(),
                            BasicPublishOptions::default(),
                            &request,
                            properties.clone(),
                        )
                        .await?;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::Ok(())
        });
        Ok(Self {
            publisher,
            channel,
            connection,
            _broker: broker,
            queue: queue.to_string(),
            started,
        })
    }

    /// Stops publishing and drops what is still waiting (minutes of work), so the queue is
    /// empty and the scale-down can follow.
    pub async fn stop(self) -> Result<()> {
        self.publisher.abort();
        self.channel
            .queue_purge(self.queue.as_str().into(), QueuePurgeOptions::default())
            .await?;
        let _ = self.connection.close(0, "done".into()).await;
        Ok(())
    }
}
