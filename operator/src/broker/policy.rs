//! The mirroring policy of a multi-node managed broker's RPC queues.
//!
//! The Koinos services declare `koinos.rpc.<service>` as plain classic durable queues (no
//! `x-queue-type`, as every official client does), so they cannot be made quorum queues from
//! the broker side. A classic queue lives on one node: while that node restarts (a rolling
//! update replaces every node in turn) its queue is unavailable, and a service cannot even
//! declare it. On RabbitMQ 3.x a policy mirrors classic queues to other nodes; with automatic
//! synchronisation a restarted node's mirrors catch up, and the preStop hook
//! (`await_online_synchronized_mirror`, [`crate::controller::build::rabbitmq::pre_stop_script`])
//! waits for a synchronised mirror before a node stops, so a queue and its messages always have
//! a live copy.
//!
//! Why a policy through the management API and not a definitions file: a definitions file is
//! read when a node boots, so a change of replicas would need a restart to change the mirror
//! count; the operator already keeps the users through the API on every pass.
//!
//! RabbitMQ 4 removed classic mirroring (it refuses `ha-*` keys): there the policy is not set,
//! an RPC queue is on one node, and its clients re-send what was lost when it comes back
//! (operator/README.md, "Broker rollouts").

use serde_json::{Value, json};

use super::management::{Management, ManagementError};

/// The policy's name in the vhost.
pub const RPC_QUEUE_POLICY: &str = "koinos-rpc-mirrors";
/// The RPC queues (`koinos.rpc.<service>`); the reply queues (`amq.gen-…`, exclusive) are
/// never mirrored, and need not be: they die with their connection.
pub const RPC_QUEUE_PATTERN: &str = r"^koinos\.rpc\.";

/// The policy for a broker of `replicas` nodes: a majority of the nodes hold each RPC queue
/// (2 of 2 or 3, 3 of 4 or 5), synchronised automatically. `None` for one node (nothing to
/// mirror to; a policy there would also make the queues look unsynchronised forever).
pub fn rpc_queue_policy(replicas: i32) -> Option<Value> {
    (replicas > 1).then(|| {
        json!({
            "pattern": RPC_QUEUE_PATTERN,
            "apply-to": "queues",
            "priority": 0,
            "definition": {
                "ha-mode": "exactly",
                "ha-params": replicas / 2 + 1,
                "ha-sync-mode": "automatic",
            },
        })
    })
}

/// Whether a broker of this version (`3.10.8`) can mirror classic queues (before 4.0).
pub fn mirrors_classic_queues(version: &str) -> bool {
    version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major < 4)
}

/// Whether the live policy (as the API returns it) is `want`.
fn same_policy(live: &Value, want: &Value) -> bool {
    ["pattern", "apply-to", "priority", "definition"]
        .iter()
        .all(|key| live.get(key) == want.get(key))
}

/// What the policy pass did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyOutcome {
    /// The policy is as wanted (set, or absent for one node); `changed` when written now.
    InPlace { changed: bool },
    /// RabbitMQ 4 or later: classic queues are not mirrored (`version`).
    Unsupported { version: String },
}

/// Sets, keeps or deletes the RPC queues' policy in `vhost` for a broker of `replicas` nodes.
pub async fn ensure_rpc_queue_policy(
    api: &Management,
    vhost: &str,
    replicas: i32,
) -> Result<PolicyOutcome, ManagementError> {
    let want = rpc_queue_policy(replicas);
    if want.is_some() {
        let version = api.version().await?;
        if !mirrors_classic_queues(&version) {
            return Ok(PolicyOutcome::Unsupported { version });
        }
    }
    let live = api.policy(vhost, RPC_QUEUE_POLICY).await?;
    let changed = match (live, want) {
        (Some(live), Some(want)) if same_policy(&live, &want) => false,
        (_, Some(want)) => {
            api.put_policy(vhost, RPC_QUEUE_POLICY, want).await?;
            true
        }
        (Some(_), None) => {
            api.delete_policy(vhost, RPC_QUEUE_POLICY).await?;
            true
        }
        (None, None) => false,
    };
    Ok(PolicyOutcome::InPlace { changed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_majority_of_the_nodes_holds_each_rpc_queue() {
        assert_eq!(rpc_queue_policy(1), None);
        let mirrors =
            |replicas| rpc_queue_policy(replicas).unwrap()["definition"]["ha-params"].clone();
        assert_eq!(mirrors(2), json!(2));
        assert_eq!(mirrors(3), json!(2));
        assert_eq!(mirrors(5), json!(3));
        let policy = rpc_queue_policy(3).unwrap();
        assert_eq!(policy["definition"]["ha-sync-mode"], "automatic");
        assert_eq!(policy["apply-to"], "queues");
    }

    #[test]
    fn classic_mirroring_ends_with_rabbitmq_4() {
        assert!(mirrors_classic_queues("3.10.8"));
        assert!(mirrors_classic_queues("3.13.7"));
        assert!(!mirrors_classic_queues("4.1.0"));
        assert!(!mirrors_classic_queues("not a version"));
    }

    #[test]
    fn a_live_policy_with_extra_fields_is_the_same_policy() {
        let want = rpc_queue_policy(3).unwrap();
        let mut live = want.clone();
        live["vhost"] = "/".into();
        live["name"] = RPC_QUEUE_POLICY.into();
        assert!(same_policy(&live, &want));
        live["definition"]["ha-params"] = 3.into();
        assert!(!same_policy(&live, &want));
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod with_rabbitmq;
