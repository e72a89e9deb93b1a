//! The install path users take: `manifests/install.yaml` applied with kubectl, and clients that
//! authenticate as the operator's ServiceAccount (a real token, so RBAC is what users get).

use anyhow::{Context, Result, ensure};
use kube::Client;
use kube::config::AuthInfo;
use serde_json::json;

use crate::cluster::ControlPlane;
use crate::koinos::{TEST_FIELD_MANAGER, workspace_path};

/// Namespace and ServiceAccount that `manifests/install.yaml` creates for the operator.
pub const OPERATOR_NAMESPACE: &str = "koinos-system";
pub const OPERATOR_SERVICE_ACCOUNT: &str = "koinos-operator";

/// The username the API server gives the operator's ServiceAccount.
pub fn operator_username() -> String {
    format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}")
}

/// `kubectl apply --server-side` of a file relative to the workspace root (idempotent, so tests
/// running in parallel may all apply it).
pub fn kubectl_apply(cp: &ControlPlane, relative_path: &str) -> Result<String> {
    kubectl_apply_file(cp, &workspace_path(relative_path))
}

fn kubectl_apply_file(cp: &ControlPlane, path: &std::path::Path) -> Result<String> {
    let path = path.to_str().context("non-UTF-8 path")?;
    let manager = format!("--field-manager={TEST_FIELD_MANAGER}");
    cp.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        &manager,
        "-f",
        path,
    ])
}

/// Applies `manifests/install.yaml` (CRD, namespace, RBAC, operator Deployment) with kubectl,
/// without its APIService: on kwok nodes no operator process serves the external metrics API,
/// an unavailable aggregated API breaks discovery, and `queue_depth_autoscaling` registers the
/// API itself. The real-pods tier applies the whole file ([`install_operator_as_is`]).
pub fn install_operator(cp: &ControlPlane) -> Result<String> {
    let text = std::fs::read_to_string(workspace_path(INSTALL_YAML))?;
    let kept = without_kind(&text, "APIService")?;
    let path = std::env::temp_dir().join(format!("koinos-e2e-install-{}.yaml", std::process::id()));
    std::fs::write(&path, kept)?;
    kubectl_apply_file(cp, &path)
}

/// Applies `manifests/install.yaml` exactly as a user does.
pub fn install_operator_as_is(cp: &ControlPlane) -> Result<String> {
    kubectl_apply(cp, INSTALL_YAML)
}

const INSTALL_YAML: &str = "manifests/install.yaml";

/// The YAML documents of `text` except those of `kind`, joined again.
fn without_kind(text: &str, kind: &str) -> Result<String> {
    let mut kept = Vec::new();
    for document in text.split("\n---") {
        let value: serde_yaml::Value = serde_yaml::from_str(document)
            .with_context(|| format!("parsing a document of {INSTALL_YAML}"))?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(kind) {
            kept.push(document);
        }
    }
    Ok(kept.join("\n---"))
}

/// A client authenticated with a fresh token of ServiceAccount `namespace/name` (TokenRequest
/// API), so every request is authorized by that account's RBAC.
pub async fn service_account_client(
    cp: &ControlPlane,
    namespace: &str,
    name: &str,
) -> Result<Client> {
    let token = cp.kubectl_ok(&["create", "token", name, "-n", namespace, "--duration=2h"])?;
    let token = token.trim();
    ensure!(!token.is_empty(), "empty token for {namespace}/{name}");
    let mut config = cp.admin_config().await?;
    config.auth_info = serde_json::from_value::<AuthInfo>(json!({ "token": token }))?;
    Ok(Client::try_from(config)?)
}
