//! `koinos-operator run`: admin server, leader election, then the controller until SIGTERM or
//! lost leadership.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};
use kube::Client;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::admin::{self, AdminState};
use crate::cli::RunArgs;
use crate::controller::{self, ControllerOptions};
use crate::leader::LeaseLock;
use crate::metrics::Metrics;
use crate::metrics_api::MetricsApiServer;

const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

fn identity(args: &RunArgs) -> String {
    args.identity
        .clone()
        .or_else(|| std::env::var("POD_NAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("koinos-operator-{}", rand::random::<u32>()))
}

fn lease_namespace(args: &RunArgs) -> String {
    args.lease_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .or_else(|| args.watch_namespace())
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "default".into())
}

/// Ends a background server when `run` returns, whichever way.
struct AbortOnDrop(Option<tokio::task::JoinHandle<std::io::Result<()>>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let ready = Arc::new(AtomicBool::new(false));
    let admin_state = AdminState {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let admin_addr = args.admin_addr;
    let admin = tokio::spawn(async move { admin::serve(admin_addr, admin_state).await });

    let client = Client::try_default()
        .await
        .context("connecting to the API server (KUBECONFIG or in-cluster)")?;
    let identity = identity(&args);
    let options = ControllerOptions {
        namespace: args.watch_namespace(),
        resync: args.resync,
        instance: Some(identity.clone()),
    };
    // One reader of the clusters' brokers (status.chain, queue depths): one connection per
    // cluster, also for the metrics API.
    let broker = controller::BrokerOptions {
        chain_status_interval: args.chain_status_interval,
        ..controller::BrokerOptions::new(client.clone(), args.watch_namespace())
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_on = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            info!("shutdown requested");
            let _ = stop_tx.send(true);
        });
    }

    // Every replica serves the metrics API (the aggregator may pick any), standbys included.
    let metrics_api = match args.metrics_api_addr {
        Some(addr) => {
            let server = MetricsApiServer::bind(
                addr,
                &args.metrics_api_cert(),
                client.clone(),
                Arc::new(broker.reader.clone()),
            )
            .await?;
            Some(tokio::spawn(server.serve(stop_on(stop_rx.clone()))))
        }
        None => None,
    };
    let _stop_metrics_api = AbortOnDrop(metrics_api);

    if !args.leader_election {
        ready.store(true, Ordering::Relaxed);
        controller::run_with_broker(client, options, broker, metrics, stop_on(stop_rx)).await?;
        admin.abort();
        return Ok(());
    }

    let lock = LeaseLock::new(
        client.clone(),
        &lease_namespace(&args),
        &args.lease_name,
        &identity,
        args.lease_duration,
    );
    info!(identity = lock.identity(), lease = %args.lease_name, "waiting for leadership");
    loop {
        if *stop_rx.borrow() {
            return Ok(());
        }
        match lock.try_acquire_or_renew().await {
            Ok(true) => break,
            Ok(false) => ready.store(true, Ordering::Relaxed),
            Err(error) => warn!(%error, "leader election"),
        }
        tokio::select! {
            _ = tokio::time::sleep(lock.retry_period()) => {}
            _ = stop_on(stop_rx.clone()) => return Ok(()),
        }
    }
    ready.store(true, Ordering::Relaxed);
    metrics.leader.set(1);
    info!(identity = lock.identity(), "acquired leadership");

    let controller = tokio::spawn(controller::run_with_broker(
        client,
        options,
        broker,
        metrics.clone(),
        stop_on(stop_rx.clone()),
    ));
    // Renew until told to stop; losing the Lease stops the controller and fails the process,
    // so the pod restarts as a standby.
    let mut last_renewal = tokio::time::Instant::now();
    let lost = loop {
        tokio::select! {
            _ = tokio::time::sleep(lock.retry_period()) => {}
            _ = stop_on(stop_rx.clone()) => break false,
        }
        match lock.try_acquire_or_renew().await {
            Ok(true) => last_renewal = tokio::time::Instant::now(),
            Ok(false) => break true,
            Err(error) => {
                warn!(%error, "renewing the Lease");
                if last_renewal.elapsed() >= args.lease_duration {
                    break true;
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    let result = controller.await.context("controller task")?;
    metrics.leader.set(0);
    if let Err(error) = lock.release().await {
        warn!(%error, "releasing the Lease");
    }
    admin.abort();
    result?;
    if lost {
        bail!("lost the leader Lease");
    }
    Ok(())
}
