//! The operator under test, run in this process (`koinos_operator::controller::run`) against
//! the control plane, confined to one test's namespace and authenticated with a token of the
//! ServiceAccount `manifests/install.yaml` creates, so its RBAC is exercised for real.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use koinos_operator::controller::{ControllerOptions, run};
use koinos_operator::metrics::Metrics;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cluster::ControlPlane;
use crate::install::{OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, service_account_client};

/// A running operator. Dropping it aborts it.
pub struct Operator {
    task: JoinHandle<Result<(), kube::Error>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Operator {
    /// Starts the controller watching `namespace` only (tests run in parallel, one namespace
    /// each). Requires `install_operator` to have created the ServiceAccount and RBAC.
    pub async fn start(cp: &ControlPlane, namespace: &str) -> Result<Self> {
        Self::start_with_resync(cp, namespace, ControllerOptions::default().resync).await
    }

    /// Like [`Self::start`], re-reconciling every healthy cluster each `resync` (drift checks).
    pub async fn start_with_resync(
        cp: &ControlPlane,
        namespace: &str,
        resync: Duration,
    ) -> Result<Self> {
        let client = service_account_client(cp, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)
            .await
            .context("a token for the operator's ServiceAccount (is install.yaml applied?)")?;
        let options = ControllerOptions {
            namespace: Some(namespace.to_owned()),
            instance: Some(format!("e2e-{namespace}")),
            resync,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = tokio::spawn(run(client, options, Metrics::new(), shutdown));
        Ok(Self {
            task,
            shutdown: Some(tx),
        })
    }

    /// Ends the operator abruptly, wherever it is (the in-process equivalent of SIGKILL: no
    /// graceful shutdown, in-flight requests dropped).
    pub fn kill(self) {
        self.task.abort();
    }

    /// Shuts the operator down gracefully and reports whether it had failed.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = &mut self.task;
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => bail!("the operator failed: {e}"),
            Ok(Err(join)) => bail!("the operator panicked: {join}"),
            Err(_) => bail!("the operator did not shut down within 30 s"),
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
