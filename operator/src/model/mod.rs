//! The operator's model: what `controller`, `broker` and `metrics_api` share, depending on
//! none of them. The service profiles, the public networks' presets, the validated cluster (and `validate`, the pure step
//! that makes one), the names of children and generated objects, and the queue-depth metric
//! contract, and the managed broker's users with their permissions.

pub mod announce;
pub mod broker_users;
pub mod cluster;
pub mod metric;
pub mod naming;
pub mod network;
pub mod profile;
pub mod validate;

pub use self::cluster::*;
pub use self::profile::{ServiceClass, ServiceKind, ServiceProfile};
pub use self::validate::{FieldError, InvalidSpec, validate};

#[cfg(test)]
mod tests;
