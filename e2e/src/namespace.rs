//! One namespace per test, so tests run in parallel without seeing each other's objects.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::wait::wait_until;

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A namespace created for one test. Delete it with [`TestNamespace::delete`] at the end of a
/// passing test; a failing test leaves it in place for inspection (the control plane is
/// thrown away after the run anyway).
pub struct TestNamespace {
    pub name: String,
    client: Client,
}

impl TestNamespace {
    /// Creates `e2e-<prefix>-<unique>` and waits for its `default` ServiceAccount, without which
    /// pods are rejected by the ServiceAccount admission plugin.
    pub async fn create(client: &Client, prefix: &str) -> Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
        let name = format!(
            "e2e-{prefix}-{:x}{:x}",
            std::process::id() % 0xfff,
            nanos ^ SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"koinos.io/e2e": "true"}}
        }))?;
        namespaces.create(&PostParams::default(), &ns).await?;
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        wait_until(
            "the default ServiceAccount",
            Duration::from_secs(60),
            || async { Ok(accounts.get_opt("default").await?) },
        )
        .await?;
        Ok(Self {
            name,
            client: client.clone(),
        })
    }

    /// Typed API for namespaced kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace (and, through the namespace controller, everything in it).
    pub async fn delete(self) -> Result<()> {
        let namespaces: Api<Namespace> = Api::all(self.client);
        namespaces
            .delete(&self.name, &DeleteParams::background())
            .await?;
        Ok(())
    }
}
