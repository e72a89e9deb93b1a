//! The RPC handler shape the store services share (block_store, transaction_store,
//! contract_meta_store, account_history): a handle on the store, each request answered by
//! work on the store on the blocking pool.

use crate::mq::typed::RpcError;

/// A store service's RPC handler over its store `S` (a cheap handle on the database). Each
/// store service implements [`Handler`](crate::mq::typed::Handler) for its
/// `StoreHandler<Store>` and answers with [`StoreHandler::blocking`].
#[derive(Clone)]
pub struct StoreHandler<S> {
    store: S,
}

impl<S: Clone + Send + 'static> StoreHandler<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// Runs `work` on the store on the blocking pool. A store error is answered with its
    /// message; a failed task with `<what> task failed: …`.
    pub async fn blocking<T, E>(
        &self,
        what: &str,
        work: impl FnOnce(&S) -> Result<T, E> + Send + 'static,
    ) -> Result<T, RpcError>
    where
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| RpcError::new(format!("{what} task failed: {e}")))?
            .map_err(|e| RpcError::new(e.to_string()))
    }
}
