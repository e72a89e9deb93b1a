//! koinos-operator: reconciles `KoinosCluster` resources into running Koinos node clusters.

pub mod cli;
pub mod controller;
pub mod crd;
pub mod metrics;
pub mod render;

#[cfg(test)]
pub(crate) mod test_support;
