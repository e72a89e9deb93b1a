//! A third-party CRD the operator may find present or absent (the Prometheus Operator's
//! PodMonitor, the CSI snapshot API's VolumeSnapshot): whether discovery serves its kind, and
//! removing it until discovery no longer does.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::DeleteParams;
use kube::{Api, Client};

use crate::wait::wait_until;

/// A CRD by its name, the group/version it serves and its kind.
pub struct ThirdPartyCrd {
    pub name: &'static str,
    pub group_version: &'static str,
    pub kind: &'static str,
}

impl ThirdPartyCrd {
    /// Whether discovery serves the kind.
    pub async fn served(&self, client: &Client) -> Result<bool> {
        match client.list_api_group_resources(self.group_version).await {
            Ok(list) => Ok(list.resources.iter().any(|r| r.kind == self.kind)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the CRD (absent is fine) and waits until it and its kind are gone.
    pub async fn remove(&self, client: &Client) -> Result<()> {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        match crds.delete(self.name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        let what = format!("{} to be gone", self.kind);
        wait_until(&what, Duration::from_secs(60), || async {
            let gone = crds.get_opt(self.name).await?.is_none() && !self.served(client).await?;
            Ok(gone.then_some(()))
        })
        .await
    }
}
