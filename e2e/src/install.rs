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
    let path = workspace_path(relative_path);
    let path = path.to_str().context("non-UTF-8 workspace path")?;
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

/// Applies `manifests/install.yaml` (CRD, namespace, RBAC, operator Deployment) with kubectl.
pub fn install_operator(cp: &ControlPlane) -> Result<String> {
    kubectl_apply(cp, "manifests/install.yaml")
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
