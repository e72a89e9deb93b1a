//! The shipped examples (`manifests/examples/*.yaml`) against the real API server.

use anyhow::{Context, Result, ensure};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, install_crd, workspace_path};
use kube::api::{DynamicObject, PostParams};
use serde_json::Value;

/// Every example, as `(file name, manifest)`, with `metadata.namespace` removed so a test can
/// place it in its own namespace.
pub fn examples() -> Result<Vec<(String, Value)>> {
    let dir = workspace_path("manifests/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    ensure!(!files.is_empty(), "no examples in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            let mut manifest: Value = serde_yaml::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            if let Some(meta) = manifest["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            Ok((name, manifest))
        })
        .collect()
}

#[tokio::test]
async fn every_example_is_accepted_by_the_api_server() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_crd(&cp.client).await?;
    let ns = TestNamespace::create(&cp.client, "examples").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    for (file, manifest) in examples()? {
        let object: DynamicObject = serde_json::from_value(manifest)?;
        let params = PostParams {
            dry_run: true,
            ..Default::default()
        };
        kcs.api
            .create(&params, &object)
            .await
            .with_context(|| format!("{file} rejected by the API server"))?;
    }
    ns.delete().await
}
