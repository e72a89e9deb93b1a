//! account_history over AMQP: options, the `koinos.rpc.account_history` handler and start-up.

use std::path::PathBuf;
use std::time::Duration;

use koinos_protocol::rpc::account_history::{
    AccountHistoryRequest, AccountHistoryResponse, GetAccountHistoryResponse,
    account_history_request::Request, account_history_response::Response,
};
use serde::{Deserialize, Serialize};

use super::{AccountHistory, Follower, Whitelist};
use crate::chain::ForkAlgorithm;
use crate::mq::topology::topic;
use crate::mq::typed::{Handler, RpcError};
use crate::runtime::Service;
use crate::storage::StoreHandler;

/// Service name: RPC queue `koinos.rpc.account_history`, data under `basedir/account_history`.
pub const SERVICE: &str = crate::mq::topology::service::ACCOUNT_HISTORY;

/// `account_history` options (official names).
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AccountHistoryArgs {
    /// State directory, relative to basedir/account_history [default: db]
    #[arg(long)]
    pub statedir: Option<PathBuf>,
    /// Delete the history before starting [default: false]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub reset: Option<bool>,
    /// Fork choice: fifo, block-time or pob [default: fifo]
    #[arg(short = 'f', long)]
    pub fork_algorithm: Option<String>,
    /// Keep only these addresses' history (base58, repeatable) [default: every address]
    #[arg(short = 'w', long)]
    pub address_whitelist: Option<Vec<String>>,
}

impl AccountHistoryArgs {
    pub fn fork_algorithm(&self) -> anyhow::Result<ForkAlgorithm> {
        self.fork_algorithm
            .as_deref()
            .unwrap_or("fifo")
            .parse()
            .map_err(anyhow::Error::msg)
    }

    pub fn whitelist(&self) -> anyhow::Result<Whitelist> {
        Whitelist::parse(self.address_whitelist.as_deref().unwrap_or_default())
            .map_err(anyhow::Error::msg)
    }
}

/// Answers `account_history_request`s. Reads run on the blocking pool.
pub type AccountHistoryHandler = StoreHandler<AccountHistory>;

impl Handler for AccountHistoryHandler {
    type Request = AccountHistoryRequest;
    type Response = AccountHistoryResponse;

    async fn handle(
        &self,
        request: AccountHistoryRequest,
    ) -> Result<AccountHistoryResponse, RpcError> {
        let Some(Request::GetAccountHistory(r)) = request.request else {
            return Err(RpcError::new("Error: attempted to call unknown rpc"));
        };
        let values = self
            .blocking("account history", move |history| {
                history.get_account_history(&r)
            })
            .await?;
        Ok(AccountHistoryResponse {
            response: Some(Response::GetAccountHistory(GetAccountHistoryResponse {
                values,
            })),
        })
    }
}

/// The service: open the history under `basedir/account_history/<statedir>`, catch up from
/// block_store, then follow the broadcasts and serve RPCs.
pub async fn run(service: Service<AccountHistoryArgs>) -> anyhow::Result<()> {
    let args = &service.settings.args;
    let (algorithm, whitelist) = (args.fork_algorithm()?, args.whitelist()?);
    let dir = service
        .settings
        .service_dir()
        .join(args.statedir.clone().unwrap_or_else(|| "db".into()));
    tracing::info!(dir = %dir.display(), ?algorithm, whitelist = whitelist.len(), "opening the history");
    let history = AccountHistory::open(&dir, args.reset == Some(true), algorithm, whitelist)?;
    // Bound before the catch-up reads its target: later blocks wait in the queues.
    let subscriber = service.subscribe(&[topic::BLOCK_ACCEPT, topic::BLOCK_IRREVERSIBLE]);
    if let Err(e) = subscriber.wait_bound(Duration::from_secs(10)).await {
        tracing::warn!(error = %e, "broadcasts not bound yet");
    }
    let mut follower = Follower::new(
        history.clone(),
        service.client(),
        crate::block_store::CATCH_UP_TIMEOUT,
    );
    // Not ready, and not consuming the RPC queue, until the missed blocks are replayed.
    follower.catch_up().await;
    let following = tokio::spawn(follower.run(subscriber));
    let served = service.serve(AccountHistoryHandler::new(history)).await;
    following.abort();
    served
}
