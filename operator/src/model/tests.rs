//! The CRD's CEL rules, `validate` and the profile table decide the singleton rule alike.

use serde_json::{Value, json};

use super::profile::{PROFILES, ServiceClass};
use crate::crd::{KoinosCluster, crd};

fn object(services: Value) -> Value {
    json!({
        "apiVersion": "koinos.io/v1alpha1",
        "kind": "KoinosCluster",
        "metadata": {"name": "devnet", "namespace": "default", "uid": "u"},
        "spec": {"network": {"devnet": {}}, "services": services},
    })
}

/// Messages of the CEL rules of the generated CRD that the object violates.
fn cel_violations(object: &Value) -> Vec<String> {
    let crd = serde_json::to_value(crd()).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    match kube::core::cel::Validator::new().validate(schema, object, None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().iter().map(|e| e.to_string()).collect(),
    }
}

/// Fields `validate` rejects.
fn invalid_fields(object: &Value) -> Vec<String> {
    let cluster: KoinosCluster = serde_json::from_value(object.clone()).unwrap();
    match super::validate(&cluster, "default") {
        Ok(_) => Vec::new(),
        Err(invalid) => invalid.0.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn crd_singleton_rules_agree_with_the_profiles_and_validate() {
    for profile in &PROFILES {
        let name = profile.spec_name;
        let singleton = profile.class == ServiceClass::Singleton;
        let cel_message = format!("spec.services.{name}: {name} is a singleton");
        for (field, spec) in [
            ("replicas", json!({"replicas": 2})),
            ("autoscaling", json!({"autoscaling": {"enabled": true}})),
        ] {
            let object = object(json!({ name: spec }));
            let cel = cel_violations(&object);
            assert_eq!(
                cel.iter().any(|v| v.contains(&cel_message)),
                singleton,
                "CEL on {name}.{field}: {cel:#?}"
            );
            let fields = invalid_fields(&object);
            assert_eq!(
                fields.contains(&format!("spec.services.{name}.{field}")),
                singleton,
                "validate on {name}.{field}: {fields:?}"
            );
        }
        let one = object(json!({ name: {"replicas": 1} }));
        assert_eq!(cel_violations(&one), Vec::<String>::new(), "{name}");
    }
}

/// A devnet whose `spec.extraServices` is `extras`.
fn with_extras(extras: Value) -> Value {
    json!({
        "apiVersion": "koinos.io/v1alpha1",
        "kind": "KoinosCluster",
        "metadata": {"name": "devnet", "namespace": "default", "uid": "u"},
        "spec": {"network": {"devnet": {}}, "extraServices": extras},
    })
}

#[test]
fn crd_extra_service_names_and_queues_agree_with_validate() {
    use super::naming::RESERVED_EXTRA_NAMES;
    use super::validate::is_builtin_queue;
    for name in RESERVED_EXTRA_NAMES {
        let object = with_extras(json!([{"name": name, "image": "a"}]));
        let cel = cel_violations(&object);
        assert!(
            cel.iter().any(|v| v.contains("operator's own children")),
            "CEL on {name}: {cel:#?}"
        );
        assert_eq!(invalid_fields(&object), ["spec.extraServices[0].name"]);
    }
    for profile in &PROFILES {
        let queue = format!("koinos.rpc.{}", profile.section);
        assert!(is_builtin_queue(&queue));
        let object = with_extras(json!([{"name": "x", "image": "a", "queue": queue}]));
        let cel = cel_violations(&object);
        assert!(
            cel.iter()
                .any(|v| v.contains("the RPC queue of a Koinos service")),
            "CEL on {queue}: {cel:#?}"
        );
        assert_eq!(invalid_fields(&object), ["spec.extraServices[0].queue"]);
    }
    for (extra, field) in [
        (json!({"queue": "amq.x"}), "queue"),
        (
            json!({"autoscaling": {"targetCpuUtilizationPercentage": 50}}),
            "autoscaling.targetCpuUtilizationPercentage",
        ),
        (json!({"env": [{"name": "POD_NAME", "value": "x"}]}), "env"),
    ] {
        let mut spec = json!({"name": "x", "image": "a"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let object = with_extras(json!([spec]));
        assert_eq!(cel_violations(&object).len(), 1, "CEL on {extra}");
        let fields = invalid_fields(&object);
        assert!(
            fields.len() == 1 && fields[0].starts_with(&format!("spec.extraServices[0].{field}")),
            "validate on {extra}: {fields:?}"
        );
    }
    let fine = with_extras(json!([{"name": "indexer", "image": "a", "queue": "acme.q"}]));
    assert_eq!(cel_violations(&fine), Vec::<String>::new());
    assert_eq!(invalid_fields(&fine), Vec::<String>::new());
}
