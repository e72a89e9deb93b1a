//! Reconcile errors: context (the object and step) plus a bounded category for metrics and
//! Events.

use crate::model::InvalidSpec;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid spec: {0}")]
    InvalidSpec(#[from] InvalidSpec),
    #[error("reading generated {kind} {name}: {source}")]
    ReadGenerated {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("generated {kind} {name} exists but is unusable: {reason}")]
    CorruptGenerated {
        kind: &'static str,
        name: String,
        reason: String,
    },
    #[error("applying {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("growing the volumes of StatefulSet {name}: {source}")]
    GrowVolumes {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("listing {kind} for orphan cleanup: {source}")]
    ListChildren {
        kind: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("deleting orphaned {kind} {name}: {source}")]
    DeleteOrphan {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("reading {kind} {name} for status: {source}")]
    ReadStatus {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("patching status of {name}: {source}")]
    PatchStatus {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("KoinosCluster has no namespace")]
    MissingNamespace,
    /// `autoscaling.provider: keda` on a cluster whose API server does not serve KEDA's kinds.
    #[error(
        "autoscaling.provider keda needs KEDA's CRDs (keda.sh/v1alpha1 ScaledObject and TriggerAuthentication): install KEDA or use provider hpa"
    )]
    KedaCrdsMissing,
    #[error("discovering KEDA's API (keda.sh/v1alpha1): {source}")]
    DiscoverKeda {
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// A bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::ReadGenerated { .. } | Self::CorruptGenerated { .. } => "GeneratedSecret",
            Self::Apply { .. } => "Apply",
            Self::GrowVolumes { .. } => "GrowVolumes",
            Self::ListChildren { .. } | Self::DeleteOrphan { .. } => "OrphanCleanup",
            Self::ReadStatus { .. } | Self::PatchStatus { .. } => "Status",
            Self::MissingNamespace => "InvalidObject",
            Self::KedaCrdsMissing | Self::DiscoverKeda { .. } => "Keda",
        }
    }

    /// Errors a retry cannot fix: the user must change something (spec, Secret, object).
    pub fn is_permanent(&self) -> bool {
        match self {
            // KEDA missing needs an install or a spec change; error_policy still retries with
            // backoff, so installing KEDA later is picked up without touching the cluster.
            Self::InvalidSpec(_)
            | Self::CorruptGenerated { .. }
            | Self::MissingNamespace
            | Self::KedaCrdsMissing => true,
            Self::Apply { source, .. } | Self::GrowVolumes { source, .. } => is_rejected(source),
            _ => false,
        }
    }
}

/// The API server refused the object itself (validation, immutable field, admission).
pub fn is_rejected(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 422 || status.code == 400)
}
