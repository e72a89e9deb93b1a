//! The `koinos-grpc` process: options (the official flag and config names) and the server.

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::access::AccessList;
use super::methods::MethodTable;
use super::server::{AmqpRelay, Gateway, KoinosService};
use crate::jsonrpc::config::parse_listen;
use crate::mq::topology::MAX_MESSAGE_SIZE;
use crate::runtime::Service;

/// Where the official gateway listens.
pub const DEFAULT_ENDPOINT: &str = "0.0.0.0:50051";

/// `grpc` options; unset ones fall back to the `global` section, then the defaults.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct GrpcArgs {
    /// Listen address: host:port or multiaddr (/ip4/0.0.0.0/tcp/50051) [default: 0.0.0.0:50051]
    #[arg(short = 'e', long)]
    pub endpoint: Option<String>,
    /// Seconds each microservice call may take [default: 5]
    #[arg(short = 'm', long)]
    pub mq_timeout: Option<u64>,
    /// Services or service.method entries allowed (repeatable); empty allows all
    #[arg(short = 'w', long)]
    pub whitelist: Option<Vec<String>>,
    /// Services or service.method entries refused (repeatable)
    #[arg(short = 'b', long)]
    pub blacklist: Option<Vec<String>>,
}

/// Serves gRPC (and server reflection, v1 and v1alpha) until the service shuts down.
pub async fn run(service: Service<GrpcArgs>) -> anyhow::Result<()> {
    let args = &service.settings.args;
    let endpoint = parse_listen(args.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT))
        .map_err(anyhow::Error::msg)?;
    let timeout = Duration::from_secs(args.mq_timeout.unwrap_or(5));
    let access = AccessList::new(
        args.whitelist.as_deref().unwrap_or_default(),
        args.blacklist.as_deref().unwrap_or_default(),
    );
    let methods =
        MethodTable::from_pool(koinos_protocol::descriptor_pool()).map_err(anyhow::Error::msg)?;
    let gateway = Gateway::new(
        methods,
        access,
        AmqpRelay::new(service.client(), timeout),
        MAX_MESSAGE_SIZE,
    );
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(koinos_protocol::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let incoming = tonic::transport::server::TcpIncoming::bind(endpoint)?;
    tracing::info!(bound = %incoming.local_addr()?, "serving gRPC");
    let shutdown = service.shutdown();
    service.readiness.set(true);
    tonic::transport::Server::builder()
        .add_service(KoinosService::new(gateway))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
