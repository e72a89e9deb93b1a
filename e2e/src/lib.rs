//! Harness for end-to-end tests against a real control plane (see `e2e/control-plane/`).
//!
//! The control plane is started by `e2e/control-plane/up.sh`, which prints a kubeconfig;
//! tests find it through `KUBECONFIG` and fail loudly when it is absent or unreachable.
//! Each test works in its own namespace ([`TestNamespace`]) and talks to the API server with
//! kube-rs; writes are counted from the API server's audit log ([`AuditLog`]).

pub mod audit;
pub mod children;
pub mod cluster;
pub mod fixtures;
pub mod install;
pub mod koinos;
pub mod namespace;
pub mod operator;
pub mod real_pods;
pub mod third_party_crd;
pub mod wait;

pub use audit::{AuditEvent, AuditLog};
pub use cluster::ControlPlane;
pub use koinos::{KoinosClusters, install_crd, workspace_path};
pub use namespace::TestNamespace;
pub use wait::wait_until;
