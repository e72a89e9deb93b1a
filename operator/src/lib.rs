//! koinos-operator: reconciles `KoinosCluster` resources into running Koinos node clusters.

pub mod admin;
pub mod broker;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod leader;
pub mod metrics;
pub mod metrics_api;
pub mod model;
pub mod render;
pub mod run;
pub mod telemetry;

pub use run::run;

#[cfg(test)]
pub(crate) mod test_support;
