//! One cluster's broker connection: queue depths and the chain's head, each bounded by a
//! timeout so that a dead broker never stalls the caller.

use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use koinos_mq::topology::service;
use koinos_mq::typed::{CallError, TypedClient};
use koinos_mq::{CaBundle, CallOptions, Connection, MqError, RpcClient};
use koinos_protocol::json::BytesType;
use koinos_protocol::rpc::chain::{
    ChainRequest, ChainResponse, GetChainIdRequest, GetHeadInfoRequest, chain_request,
    chain_response,
};

use super::ReadFailure;
use crate::crd::status::ChainStatus;

/// How often [`ClusterBroker`] looks at a connection that is still being established.
const CONNECT_POLL: Duration = Duration::from_millis(20);

/// What a passive `queue.declare` tells of a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages ready for delivery (the backlog: see the module doc of [`crate::broker`]).
    pub ready: u64,
    /// Consumers attached: 0 means nobody serves the queue.
    pub consumers: u64,
}

/// A supervised connection to one cluster's broker (it reconnects by itself after a loss)
/// plus an RPC client of its chain service.
pub struct ClusterBroker {
    conn: Connection,
    chain: TypedClient<ChainRequest, ChainResponse>,
    endpoint: String,
    timeout: Duration,
    chain_id: OnceLock<String>,
}

impl ClusterBroker {
    /// Starts connecting to `url` in the background; returns at once. `ca`: the roots of an
    /// `amqps://` broker (`None`: the system's). `endpoint` is the URL without credentials
    /// (for messages); `timeout` bounds every read, connecting included. Must be called inside
    /// a Tokio runtime.
    pub fn connect(
        url: &str,
        ca: Option<&CaBundle>,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Self, ReadFailure> {
        let conn = Connection::connect_supervised_with(url, ca).map_err(|error| match error {
            MqError::InvalidUrl { .. } => ReadFailure::Credentials {
                message: format!("the broker URL for {endpoint} is not a usable AMQP URL"),
            },
            other => ReadFailure::Credentials {
                message: format!("the broker {endpoint}: {other}"),
            },
        })?;
        let chain = TypedClient::new(
            &RpcClient::new(&conn),
            service::CHAIN,
            CallOptions::timeout(timeout),
        );
        Ok(Self {
            conn,
            chain,
            endpoint: endpoint.to_string(),
            timeout,
            chain_id: OnceLock::new(),
        })
    }

    /// `amqp://host:port/vhost` of this broker.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// True while the connection is up.
    pub fn is_connected(&self) -> bool {
        self.conn.is_connected()
    }

    fn unreachable(&self, detail: String) -> ReadFailure {
        ReadFailure::Broker {
            endpoint: self.endpoint.clone(),
            detail,
        }
    }

    /// Waits for the link at most the timeout, but fails as soon as an attempt has failed
    /// (the supervisor keeps retrying in the background and says why it could not connect).
    async fn connected(&self) -> Result<(), ReadFailure> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if self.conn.is_connected() {
                return Ok(());
            }
            if let Some(error) = self.conn.last_error() {
                return Err(self.unreachable(error));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.unreachable(format!("no connection within {:?}", self.timeout)));
            }
            // The connection offers no failure notification; a short poll is cheap enough.
            tokio::time::sleep(CONNECT_POLL).await;
        }
    }

    /// Ready messages in `queue`; a queue that does not exist holds none (its service has not
    /// declared it yet, and requests routed to it are dropped, so there is no backlog).
    pub async fn queue_depth(&self, queue: &str) -> Result<u64, ReadFailure> {
        self.queue_counts(queue).await.map(|counts| counts.ready)
    }

    /// Ready messages and consumers of `queue` (both 0 when it does not exist).
    pub async fn queue_counts(&self, queue: &str) -> Result<QueueCounts, ReadFailure> {
        let read = async {
            self.connected().await?;
            match self.conn.queue_stats(queue).await {
                Ok(stats) => Ok(stats.map_or(QueueCounts::default(), |s| QueueCounts {
                    ready: u64::from(s.ready),
                    consumers: u64::from(s.consumers),
                })),
                Err(error) => Err(self.unreachable(error.to_string())),
            }
        };
        tokio::time::timeout(self.timeout, read)
            .await
            .unwrap_or_else(|_| {
                Err(self.unreachable(format!(
                    "reading {queue} took longer than {:?}",
                    self.timeout
                )))
            })
    }

    /// One chain RPC, its failures classified.
    async fn call_chain(
        &self,
        request: chain_request::Request,
    ) -> Result<chain_response::Response, ReadFailure> {
        let request = ChainRequest {
            request: Some(request),
        };
        let response = self
            .chain
            .call(&request)
            .await
            .map_err(|error| match error {
                CallError::Mq(MqError::Timeout { .. }) => ReadFailure::ChainTimeout {
                    after: self.timeout,
                },
                CallError::Mq(other) => self.unreachable(other.to_string()),
                CallError::Decode(error) => ReadFailure::ChainError {
                    detail: format!("malformed chain response: {error}"),
                },
                CallError::Remote { message, .. } => ReadFailure::ChainError { detail: message },
            })?;
        match response.response {
            Some(chain_response::Response::Error(error)) => Err(ReadFailure::ChainError {
                detail: error.message,
            }),
            Some(response) => Ok(response),
            None => Err(ReadFailure::ChainError {
                detail: "empty chain response".into(),
            }),
        }
    }

    /// The chain id, read once per connection (a chain's id never changes).
    async fn chain_id(&self) -> Result<String, ReadFailure> {
        if let Some(id) = self.chain_id.get() {
            return Ok(id.clone());
        }
        match self
            .call_chain(chain_request::Request::GetChainId(GetChainIdRequest {}))
            .await?
        {
            chain_response::Response::GetChainId(answer) => {
                let id = BytesType::Base64.encode(&answer.chain_id);
                Ok(self.chain_id.get_or_init(|| id).clone())
            }
            other => Err(ReadFailure::ChainError {
                detail: format!("unexpected get_chain_id response: {other:?}"),
            }),
        }
    }

    /// `chain.get_head_info` (head height, id and block time, last irreversible block) and
    /// the chain id.
    pub async fn head_info(&self) -> Result<ChainStatus, ReadFailure> {
        let read = async {
            self.connected().await?;
            let info = match self
                .call_chain(chain_request::Request::GetHeadInfo(GetHeadInfoRequest {}))
                .await?
            {
                chain_response::Response::GetHeadInfo(info) => info,
                other => {
                    return Err(ReadFailure::ChainError {
                        detail: format!("unexpected get_head_info response: {other:?}"),
                    });
                }
            };
            let head = info.head_topology.unwrap_or_default();
            Ok(ChainStatus {
                head_height: head.height,
                head_id: format!("0x{}", hex::encode(&head.id)),
                last_irreversible_block: info.last_irreversible_block,
                head_block_time: i64::try_from(info.head_block_time)
                    .ok()
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                    .map(Time),
                lag: None,
                chain_id: Some(self.chain_id().await?),
            })
        };
        // The calls have their own timeout; this one also covers waiting for the connection.
        tokio::time::timeout(self.timeout, read)
            .await
            .unwrap_or_else(|_| {
                if self.conn.is_connected() {
                    Err(ReadFailure::ChainTimeout {
                        after: self.timeout,
                    })
                } else {
                    Err(self.unreachable(format!("no connection within {:?}", self.timeout)))
                }
            })
    }

    /// Closes the connection (no servers run on it: returns promptly).
    pub async fn close(&self) {
        self.conn.close().await;
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod with_rabbitmq;
