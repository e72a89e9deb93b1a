//! The KoinosCluster controller: validate (pure) -> build (pure) -> apply -> status.

pub mod build;
pub mod profile;
pub mod validate;
