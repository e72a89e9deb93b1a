//! The KoinosCluster resource as the API server sees it: the CRD from `crds/`, and a dynamic API
//! (tests send arbitrary, also invalid, objects, which typed structs could not represent).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::Value;

use crate::wait::wait_until;

/// Field manager the tests use for their own server-side applies.
pub const TEST_FIELD_MANAGER: &str = "koinos-e2e";
pub const CRD_NAME: &str = "koinosclusters.koinos.io";

/// A path relative to the workspace root (the parent of this crate).
pub fn workspace_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Applies `crds/koinoscluster.yaml` and waits until the API server serves the resource.
pub async fn install_crd(client: &Client) -> Result<()> {
    let path = workspace_path("crds/koinoscluster.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the CRD {}", path.display()))?;
    let crd: CustomResourceDefinition = serde_yaml::from_str(&text)
        .with_context(|| format!("parsing the CRD {}", path.display()))?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply(TEST_FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .context("applying the KoinosCluster CRD")?;
    wait_until(
        "the KoinosCluster CRD to be Established",
        Duration::from_secs(30),
        || async {
            let crd = crds.get(CRD_NAME).await?;
            let established = crd.status.and_then(|s| s.conditions).is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
            Ok(established.then_some(()))
        },
    )
    .await
}

/// The KoinosCluster API in one namespace, on untyped JSON.
pub struct KoinosClusters {
    pub api: Api<DynamicObject>,
}

impl KoinosClusters {
    pub fn resource() -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("koinos.io", "v1alpha1", "KoinosCluster"),
            "koinosclusters",
        )
    }

    pub fn new(client: &Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced_with(client.clone(), namespace, &Self::resource()),
        }
    }

    /// Creates the object described by `manifest` (apiVersion and kind are filled in).
    pub async fn create(&self, manifest: Value) -> kube::Result<DynamicObject> {
        self.api
            .create(&PostParams::default(), &to_object(manifest))
            .await
    }

    /// Server-side applies `manifest` with the tests' field manager.
    pub async fn apply(&self, name: &str, manifest: Value) -> kube::Result<DynamicObject> {
        let params = PatchParams::apply(TEST_FIELD_MANAGER).force();
        self.api
            .patch(name, &params, &Patch::Apply(to_object(manifest)))
            .await
    }

    /// Merge-patches the spec (a JSON merge patch of `{"spec": spec_patch}`).
    pub async fn patch_spec(&self, name: &str, spec_patch: Value) -> kube::Result<DynamicObject> {
        let patch = serde_json::json!({ "spec": spec_patch });
        self.api
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
    }

    /// The condition `type_` of the cluster's status, if present.
    pub async fn condition(&self, name: &str, type_: &str) -> Result<Option<Value>> {
        let kc = self.api.get(name).await?;
        Ok(condition(&kc, type_).cloned())
    }
}

/// The status condition `type_` of a KoinosCluster.
pub fn condition<'a>(kc: &'a DynamicObject, type_: &str) -> Option<&'a Value> {
    kc.data
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn to_object(mut manifest: Value) -> DynamicObject {
    let map = manifest
        .as_object_mut()
        .expect("a KoinosCluster manifest is a JSON object");
    map.insert("apiVersion".into(), "koinos.io/v1alpha1".into());
    map.insert("kind".into(), "KoinosCluster".into());
    serde_json::from_value(manifest).expect("a KoinosCluster manifest has metadata.name")
}

/// The API server's rejection of a request: `(code, message)`, or an error if it was accepted.
pub fn rejection<T: std::fmt::Debug>(result: kube::Result<T>) -> Result<(u16, String)> {
    match result {
        Err(kube::Error::Api(status)) => Ok((status.code, status.message)),
        Err(other) => bail!("request failed without an API status: {other}"),
        Ok(accepted) => bail!("the API server accepted the request: {accepted:?}"),
    }
}

/// Creates a cluster `invalid-<i>` of each `(case, spec, field)` and checks that the API server
/// refuses it (422) with a message naming `field`; every case is tried, and all that were not
/// refused that way are reported together.
pub async fn expect_refused_naming_fields(
    kcs: &KoinosClusters,
    cases: Vec<(&str, Value, &str)>,
) -> Result<()> {
    let mut failures = Vec::new();
    for (i, (case, spec, field)) in cases.into_iter().enumerate() {
        let cluster =
            serde_json::json!({"metadata": {"name": format!("invalid-{i}")}, "spec": spec});
        match rejection(kcs.create(cluster).await) {
            Ok((422, message)) if message.contains(field) => eprintln!("{case}: {message}"),
            Ok((code, message)) => failures.push(format!(
                "{case}: code {code}, message lacks {field:?}: {message}"
            )),
            Err(e) => failures.push(format!("{case}: {e:#}")),
        }
    }
    ensure!(
        failures.is_empty(),
        "{} invalid specs not refused as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}
