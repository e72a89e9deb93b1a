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
