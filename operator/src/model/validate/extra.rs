//! `spec.extraServices`: names, queues, autoscaling and env of the user's own consumers
//! (the CRD's CEL rules say the same at admission; the list's uniqueness by `name` is the API
//! server's `x-kubernetes-list-type: map`, repeated here).

use std::collections::BTreeSet;

use super::{Checker, checked_autoscaling, default_resources, is_dns_label, resolve_pod};
use crate::crd::extra::{ExtraServiceSpec, MAX_EXTRA_SERVICE_NAME};
use crate::crd::pod::PodOverrides;
use crate::model::cluster::ValidatedExtraService;
use crate::model::naming::{EXTRA_SERVICE_ENV, RESERVED_EXTRA_NAMES, default_extra_queue};
use crate::model::profile::PROFILES;

/// Requests of an extra service's container when its spec gives no resources.
const DEFAULT_REQUESTS: (&str, &str) = ("100m", "128Mi");

/// Whether `queue` is the RPC queue of a Koinos service (`koinos.rpc.<section>`), whether or
/// not the cluster runs it.
pub fn is_builtin_queue(queue: &str) -> bool {
    PROFILES
        .iter()
        .any(|p| queue == koinos_mq::topology::rpc_queue(p.section))
}

/// An AMQP queue name the operator accepts: 1-255 of `A-Za-z0-9._:-`.
fn is_queue_name(queue: &str) -> bool {
    !queue.is_empty()
        && queue.len() <= 255
        && queue
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Every extra service, checked and resolved (those with errors are reported and left out).
pub(super) fn validate_extra_services(
    check: &mut Checker,
    specs: &[ExtraServiceSpec],
    cluster_pod: &PodOverrides,
) -> Vec<ValidatedExtraService> {
    let mut names = BTreeSet::new();
    let mut queues = BTreeSet::new();
    let mut services = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let field = format!("spec.extraServices[{i}]");
        let errors = check.errors.len();
        let name = &spec.name;
        let name_errors = check.errors.len();
        if !is_dns_label(name) || name.len() > MAX_EXTRA_SERVICE_NAME {
            check.fail(
                format!("{field}.name"),
                format!("{name:?} is not a DNS label of at most {MAX_EXTRA_SERVICE_NAME} characters (lowercase alphanumerics and `-`)"),
            );
        } else if RESERVED_EXTRA_NAMES.contains(&name.as_str()) {
            check.fail(
                format!("{field}.name"),
                format!(
                    "{name:?} is the name of one of the operator's own children: choose another"
                ),
            );
        } else if !names.insert(name.clone()) {
            check.fail(
                format!("{field}.name"),
                format!("{name:?} is the name of another extra service"),
            );
        }
        if spec.image.trim().is_empty() {
            check.fail(format!("{field}.image"), "must not be empty");
        }
        let queue = spec
            .queue
            .clone()
            .unwrap_or_else(|| default_extra_queue(name));
        // A default queue of a refused name says nothing new.
        if spec.queue.is_some() || check.errors.len() == name_errors {
            check_queue(check, &field, &queue, &mut queues);
        }
        let mut env_names = BTreeSet::new();
        for var in &spec.env {
            if EXTRA_SERVICE_ENV.contains(&var.name.as_str()) {
                check.fail(format!("{field}.env.{}", var.name), "set by the operator");
            } else if !env_names.insert(var.name.as_str()) {
                check.fail(format!("{field}.env.{}", var.name), "set twice");
            }
        }
        let replicas = spec.replicas.unwrap_or(1);
        if replicas < 0 {
            check.fail(format!("{field}.replicas"), "must not be negative");
        }
        if let Some(a) = &spec.autoscaling
            && a.target_cpu_utilization_percentage.is_some()
        {
            check.fail(
                format!("{field}.autoscaling.targetCpuUtilizationPercentage"),
                "an extra service scales on its queue's depth: use targetQueueDepth",
            );
        }
        let autoscaling = checked_autoscaling(check, &field, spec.autoscaling.as_ref(), replicas);
        let pod = resolve_pod(check, &field, cluster_pod, None);
        if check.errors.len() > errors {
            continue;
        }
        services.push(ValidatedExtraService {
            name: name.clone(),
            image: spec.image.clone(),
            command: spec.command.clone(),
            args: spec.args.clone(),
            replicas,
            env: spec.env.clone(),
            resources: spec
                .resources
                .clone()
                .unwrap_or_else(|| default_resources(DEFAULT_REQUESTS)),
            queue,
            autoscaling,
            pod,
        });
    }
    services
}

/// `queue`: a queue name, not a Koinos service's, not the broker's, not another extra service's.
fn check_queue(check: &mut Checker, field: &str, queue: &str, queues: &mut BTreeSet<String>) {
    if !is_queue_name(queue) {
        check.fail(
            format!("{field}.queue"),
            format!("{queue:?} is not a queue name (1-255 of A-Z, a-z, 0-9, `.`, `_`, `:`, `-`)"),
        );
    } else if is_builtin_queue(queue) {
        check.fail(
            format!("{field}.queue"),
            format!("{queue} is the RPC queue of a Koinos service: an extra consumer there would take the service's requests"),
        );
    } else if queue.starts_with("amq.") {
        check.fail(
            format!("{field}.queue"),
            "names starting with amq. are reserved by the broker",
        );
    } else if !queues.insert(queue.to_string()) {
        check.fail(
            format!("{field}.queue"),
            format!("{queue} is consumed by another extra service: one service per queue"),
        );
    }
}

#[cfg(test)]
#[path = "extra_tests.rs"]
mod tests;
