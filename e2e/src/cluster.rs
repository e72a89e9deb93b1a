//! Connection to the control plane started by `e2e/control-plane/up.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

const HOW_TO_START: &str = "the e2e suite needs a running control plane: run \
     `e2e/control-plane/run-tests.sh`, or `source \"$(dirname $(bash e2e/control-plane/up.sh))/env\"` \
     before `cargo test -p koinos-e2e`";

/// The running control plane: an admin client plus the files `up.sh` left beside the kubeconfig.
#[derive(Clone)]
pub struct ControlPlane {
    /// Client authenticated as the admin (group `system:masters`).
    pub client: Client,
    pub kubeconfig: PathBuf,
    /// The API server's audit log (every write, one JSON event per line).
    pub audit_log: PathBuf,
    /// Directory holding kubectl and the other control-plane binaries.
    pub bin_dir: Option<PathBuf>,
}

impl ControlPlane {
    /// Connects to the control plane named by `KUBECONFIG`; fails (never skips) when it is absent.
    pub async fn connect() -> Result<Self> {
        let kubeconfig = PathBuf::from(
            std::env::var_os("KUBECONFIG")
                .with_context(|| format!("KUBECONFIG is not set; {HOW_TO_START}"))?,
        );
        let run_dir = kubeconfig
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let audit_log = std::env::var_os("E2E_AUDIT_LOG")
            .map(PathBuf::from)
            .unwrap_or_else(|| run_dir.join("audit.log"));
        let bin_dir = std::env::var_os("E2E_BIN").map(PathBuf::from);
        let client = Client::try_from(admin_config(&kubeconfig).await?)?;
        let version = client.apiserver_version().await.with_context(|| {
            format!(
                "API server of {} is unreachable; {HOW_TO_START}",
                kubeconfig.display()
            )
        })?;
        if !audit_log.exists() {
            bail!(
                "audit log {} not found (set E2E_AUDIT_LOG); {HOW_TO_START}",
                audit_log.display()
            );
        }
        // Test output goes to stderr, which the test runner shows for failed tests.
        eprintln!(
            "[e2e] control plane {} at {}",
            version.git_version,
            kubeconfig.display()
        );
        Ok(Self {
            client,
            kubeconfig,
            audit_log,
            bin_dir,
        })
    }

    /// A client that acts as `user` (with `groups`) through impersonation, so RBAC is evaluated
    /// for that identity and the audit log records it as `impersonatedUser`.
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> Result<Client> {
        let mut config = self.admin_config().await?;
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups =
            Some(groups.iter().map(|g| (*g).to_owned()).collect());
        Ok(Client::try_from(config)?)
    }

    /// The admin's client configuration (to derive clients with other credentials).
    pub async fn admin_config(&self) -> Result<Config> {
        admin_config(&self.kubeconfig).await
    }

    /// Runs the control plane's own kubectl (the same version as the API server) with `args`.
    pub fn kubectl(&self, args: &[&str]) -> Result<Output> {
        let program = self
            .bin_dir
            .as_ref()
            .map(|d| d.join("kubectl"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("kubectl"));
        Command::new(&program)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .with_context(|| format!("running {} {}", program.display(), args.join(" ")))
    }

    /// Like [`Self::kubectl`] but fails unless kubectl exits 0; returns its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.kubectl(args)?;
        if !out.status.success() {
            bail!(
                "kubectl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }
}

async fn admin_config(kubeconfig: &Path) -> Result<Config> {
    let file = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading kubeconfig {}", kubeconfig.display()))?;
    Ok(Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?)
}
