//! The `koinos-jsonrpc` process: options (official flag and config names), the AMQP transport
//! and the serve loop.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::config::{GatewayOptions, parse_listen};
use super::gateway::{CallError, Gateway, RpcTransport};
use super::translate::Translator;
use crate::mq::{CallOptions, MqError, RpcClient};
use crate::runtime::Service;

/// `jsonrpc` options; unset ones fall back to the `global` section, then the defaults.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JsonRpcArgs {
    /// Listen address: host:port or multiaddr (/ip4/127.0.0.1/tcp/8080, /tcp/8080)
    /// [default: /ip4/127.0.0.1/tcp/8080]
    #[arg(short = 'L', long)]
    pub listen: Option<String>,
    /// HTTP path served; `/` serves every path [default: /]
    #[arg(short = 'e', long)]
    pub endpoint: Option<String>,
    /// Seconds a request may wait for a free job before HTTP 504 [default: 3]
    #[arg(short = 'g', long)]
    pub gateway_timeout: Option<u64>,
    /// Cap, in seconds, on each microservice call; the effective timeout is min(this, 1 s)
    /// [default: 5]
    #[arg(short = 'm', long)]
    pub mq_timeout: Option<u64>,
    /// Method prefixes allowed (repeatable); empty allows all
    #[arg(short = 'w', long)]
    pub whitelist: Option<Vec<String>>,
    /// Method prefixes refused (repeatable) [default: block_store.add_block,
    /// chain.propose_block]
    #[arg(short = 'b', long)]
    pub blacklist: Option<Vec<String>>,
    /// Largest request accepted, in bytes [default: 536870912]
    #[arg(long)]
    pub max_request_size: Option<usize>,
}

impl JsonRpcArgs {
    /// Resolves the options; `jobs` is the process's concurrency (HTTP jobs are at least
    /// [`MIN_JOBS`]).
    pub fn resolve(&self, jobs: usize) -> Result<GatewayOptions, String> {
        let defaults = GatewayOptions::default();
        Ok(GatewayOptions {
            listen: match &self.listen {
                Some(text) => parse_listen(text)?,
                None => defaults.listen,
            },
            endpoint: self.endpoint.clone().unwrap_or(defaults.endpoint),
            gateway_timeout: self
                .gateway_timeout
                .map_or(defaults.gateway_timeout, Duration::from_secs),
            mq_timeout: self
                .mq_timeout
                .map_or(defaults.mq_timeout, Duration::from_secs),
            jobs: jobs.max(MIN_JOBS),
            whitelist: self.whitelist.clone().unwrap_or(defaults.whitelist),
            blacklist: self.blacklist.clone().unwrap_or(defaults.blacklist),
            max_request_size: self.max_request_size.unwrap_or(defaults.max_request_size),
        })
    }
}

/// The least number of requests handled at once. The official gateway runs 16 workers; here a
/// request in flight is a task waiting on the broker, and 16 of them capped a 2-core node at
/// about 8k requests/s whatever the number of connections (docs/performance.md).
pub const MIN_JOBS: usize = 256;

/// Microservice calls over AMQP: one attempt, request expiration = timeout (Go `NoRetry`).
#[derive(Debug, Clone)]
pub struct MqTransport {
    client: RpcClient,
}

impl MqTransport {
    pub fn new(client: RpcClient) -> Self {
        Self { client }
    }
}

impl RpcTransport for MqTransport {
    async fn call(
        &self,
        service: &str,
        request: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, CallError> {
        match self
            .client
            .call(service, &request, CallOptions::timeout(timeout))
            .await
        {
            Ok(reply) => Ok(reply),
            Err(MqError::Timeout { .. }) => Err(CallError::Timeout),
            Err(error) => Err(CallError::Failed(error.to_string())),
        }
    }
}

/// Adds every descriptor file in `dir` (a `FileDescriptorSet` or a `FileDescriptorProto`, as
/// the official gateway reads `basedir/jsonrpc/descriptors/*`) to the built-in pool.
pub fn translator_with_descriptors(dir: &Path) -> anyhow::Result<Translator> {
    let mut pool = koinos_protocol::descriptor_pool().clone();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let bytes = std::fs::read(&path)?;
            let set = <prost_types::FileDescriptorSet as prost::Message>::decode(bytes.as_slice())
                .ok()
                .filter(|set| !set.file.is_empty());
            let result = match set {
                Some(set) => pool.add_file_descriptor_set(set).map_err(|e| e.to_string()),
                None => {
                    match <prost_types::FileDescriptorProto as prost::Message>::decode(
                        bytes.as_slice(),
                    ) {
                        Ok(file) => pool
                            .add_file_descriptor_proto(file)
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            if let Err(error) = result {
                tracing::warn!(path = %path.display(), %error, "skipping descriptor file");
            }
        }
    }
    Ok(Translator::new(pool))
}

/// Serves the gateway until the service shuts down.
pub async fn run(service: Service<JsonRpcArgs>) -> anyhow::Result<()> {
    let options = service
        .settings
        .args
        .resolve(service.settings.jobs)
        .map_err(anyhow::Error::msg)?;
    let translator =
        translator_with_descriptors(&service.settings.service_dir().join("descriptors"))?;
    let listen: SocketAddr = options.listen;
    let gateway = Gateway::new(options, translator, MqTransport::new(service.client()));
    let shutdown = service.shutdown();
    service.readiness.set(true);
    super::http::serve(
        gateway,
        listen,
        |bound| tracing::info!(%bound, "serving JSON-RPC"),
        async move { shutdown.cancelled().await },
    )
    .await?;
    Ok(())
}
