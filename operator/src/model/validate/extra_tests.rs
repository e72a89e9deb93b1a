use crate::model::validate;
use crate::test_support::{DEVNET, fixture, validated};

fn with_extras(list: &str) -> String {
    format!("{DEVNET}  extraServices:\n{list}")
}

/// `field: message` of each error of a devnet with these extra services.
fn errors(list: &str) -> Vec<String> {
    validate(&fixture(&with_extras(list)), "default")
        .expect_err("spec is invalid")
        .0
        .into_iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect()
}

#[test]
fn defaults_resolve() {
    let vc = validated(&with_extras(
        "    - {name: indexer, image: acme/indexer:1}\n",
    ));
    let [indexer] = vc.extra_services.as_slice() else {
        panic!("{:?}", vc.extra_services)
    };
    assert_eq!(indexer.queue, "koinos.rpc.indexer");
    assert_eq!(indexer.replicas, 1);
    assert!(indexer.autoscaling.is_none());
    assert!(indexer.command.is_empty());
    let requests = indexer.resources.requests.as_ref().unwrap();
    assert_eq!(requests["cpu"].0, "100m");
    let vc = validated(&with_extras(
        "    - {name: indexer, image: acme/indexer:1, replicas: 2, autoscaling: {enabled: true}}\n",
    ));
    let autoscaling = vc.extra_services[0].autoscaling.as_ref().unwrap();
    assert_eq!((autoscaling.min_replicas, autoscaling.max_replicas), (2, 3));
    assert_eq!(autoscaling.target_queue_depth, 20);
}

#[test]
fn names_must_be_dns_labels_of_no_child_of_ours_and_unique() {
    let errors = errors(
        "    - {name: Indexer, image: a}\n    - {name: block-store, image: a}\n    - {name: rabbitmq, image: a}\n    - {name: twin, image: a, queue: q1}\n    - {name: twin, image: a, queue: q2}\n    - {name: a-name-that-is-longer-than-thirty, image: a}\n",
    );
    let fields: Vec<_> = errors
        .iter()
        .map(|e| e.split(':').next().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.extraServices[0].name",
            "spec.extraServices[1].name",
            "spec.extraServices[2].name",
            "spec.extraServices[4].name",
            "spec.extraServices[5].name",
        ],
        "{errors:#?}"
    );
    assert!(errors[1].contains("operator's own children"), "{errors:?}");
    assert!(errors[3].contains("another extra service"), "{errors:?}");
}

#[test]
fn queues_are_names_of_their_own() {
    let errors = errors(
        "    - {name: a, image: a, queue: koinos.rpc.block_store}\n    - {name: b, image: a, queue: amq.gen-x}\n    - {name: c, image: a, queue: 'no spaces'}\n    - {name: d, image: a, queue: shared}\n    - {name: e, image: a, queue: shared}\n",
    );
    let expected = [
        "spec.extraServices[0].queue: koinos.rpc.block_store is the RPC queue of a Koinos service",
        "spec.extraServices[1].queue: names starting with amq.",
        "spec.extraServices[2].queue: \"no spaces\" is not a queue name",
        "spec.extraServices[4].queue: shared is consumed by another extra service",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, expected) in errors.iter().zip(expected) {
        assert!(error.starts_with(expected), "{error}");
    }
}

#[test]
fn operator_env_cpu_targets_and_inverted_bounds_are_refused() {
    let errors = errors(
        "    - name: a\n      image: a\n      env: [{name: KOINOS_AMQP_URL, value: x}, {name: KOINOS_RPC_QUEUE, value: y}, {name: OK, value: z}]\n      autoscaling: {enabled: true, minReplicas: 4, maxReplicas: 2, targetCpuUtilizationPercentage: 50}\n    - {name: b, image: ' '}\n",
    );
    let fields: Vec<_> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.extraServices[0].env.KOINOS_AMQP_URL",
            "spec.extraServices[0].env.KOINOS_RPC_QUEUE",
            "spec.extraServices[0].autoscaling.targetCpuUtilizationPercentage",
            "spec.extraServices[0].autoscaling.minReplicas",
            "spec.extraServices[1].image",
        ],
        "{errors:#?}"
    );
}

#[test]
fn env_names_are_set_once_and_the_queue_var_is_the_operators_everywhere() {
    let errors = errors(
        "    - name: a\n      image: a\n      env: [{name: X, value: '1'}, {name: X, value: '2'}]\n",
    );
    assert_eq!(errors, ["spec.extraServices[0].env.X: set twice"]);
    let cluster_wide =
        format!("{DEVNET}  podOverrides: {{env: [{{name: KOINOS_RPC_QUEUE, value: q}}]}}\n");
    let fields: Vec<_> = validate(&fixture(&cluster_wide), "default")
        .expect_err("the operator sets KOINOS_RPC_QUEUE")
        .0
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, ["spec.podOverrides.env.KOINOS_RPC_QUEUE"]);
}
