//! The CA of an external `amqps://` broker (`spec.amqp.external.tls.caSecretRef`) in every
//! workload: the Secret's key mounted read-only as one file, and `KOINOS_AMQP_CA_FILE` naming
//! it. Our services read that variable as their `amqp-ca-file` option (the flag's env form, so
//! it wins over `config.yml`, where the key is reserved); an extra service's image may read it
//! the same way. Nothing is added without `tls`.

use k8s_openapi::api::core::v1::{EnvVar, KeyToPath, SecretVolumeSource, Volume, VolumeMount};

use super::workload::mount;
use crate::model::ValidatedCluster;
use crate::model::naming::amqp_ca_secret;

/// The env var (and `--amqp-ca-file` flag's env form) naming the CA file.
pub const AMQP_CA_ENV: &str = "KOINOS_AMQP_CA_FILE";
/// Where the CA Secret is mounted.
pub const AMQP_CA_DIR: &str = "/etc/koinos/amqp-ca";
/// The file the Secret's key becomes.
pub const AMQP_CA_FILE: &str = "ca.crt";
const VOLUME: &str = "amqp-ca";

/// Adds the CA volume, its read-only mount and [`AMQP_CA_ENV`] when the broker has a CA.
pub fn mount_into(
    vc: &ValidatedCluster,
    volumes: &mut Vec<Volume>,
    mounts: &mut Vec<VolumeMount>,
    env: &mut Vec<EnvVar>,
) {
    let Some(ca) = amqp_ca_secret(vc) else {
        return;
    };
    volumes.push(Volume {
        name: VOLUME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(ca.name.clone()),
            items: Some(vec![KeyToPath {
                key: ca.key.clone(),
                path: AMQP_CA_FILE.into(),
                mode: None,
            }]),
            // A CA is public: readable by the non-root service user, like a ConfigMap.
            default_mode: Some(0o444),
            ..Default::default()
        }),
        ..Default::default()
    });
    mounts.push(mount(VOLUME, AMQP_CA_DIR, true));
    env.push(EnvVar {
        name: AMQP_CA_ENV.into(),
        value: Some(format!("{AMQP_CA_DIR}/{AMQP_CA_FILE}")),
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PodSpec;

    use super::*;
    use crate::controller::build::{Desired, build};
    use crate::test_support::{EXTERNAL_BROKER, generated, validated};

    /// The external-broker fixture over amqps with a CA, plus one extra service.
    fn tls_cluster() -> String {
        EXTERNAL_BROKER.replace(
            "amqp: {external: {urlSecretRef: {name: broker, key: url}}}",
            "amqp: {external: {urlSecretRef: {name: broker, key: url}, tls: {caSecretRef: {name: broker-ca, key: ca.pem}}}}\n  extraServices: [{name: indexer, image: example.com/indexer:1}]",
        )
    }

    /// Every workload's pod spec, by name.
    fn pod_specs(desired: &Desired) -> Vec<(String, PodSpec)> {
        let sets = desired.stateful_sets.iter().map(|s| {
            let spec = s.spec.as_ref().unwrap().template.spec.clone().unwrap();
            (s.metadata.name.clone().unwrap(), spec)
        });
        let deployments = desired.deployments.iter().map(|d| {
            let spec = d.spec.as_ref().unwrap().template.spec.clone().unwrap();
            (d.metadata.name.clone().unwrap(), spec)
        });
        sets.chain(deployments).collect()
    }

    #[test]
    fn every_workload_mounts_the_ca_read_only_and_names_it() {
        let vc = validated(&tls_cluster());
        let desired = build(&vc, &generated());
        let specs = pod_specs(&desired);
        assert!(specs.iter().any(|(name, _)| name == "ext-indexer"));
        assert!(specs.iter().any(|(name, _)| name == "ext-chain"));
        for (name, spec) in &specs {
            let volume = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == VOLUME)
                .unwrap_or_else(|| panic!("{name} has no CA volume"));
            insta::assert_yaml_snapshot!("amqp_ca_volume", volume);
            let container = &spec.containers[0];
            let mount = container.volume_mounts.iter().flatten();
            let mount = mount.clone().find(|m| m.name == VOLUME).unwrap();
            assert_eq!(
                (mount.mount_path.as_str(), mount.read_only),
                (AMQP_CA_DIR, Some(true)),
                "{name}"
            );
            let env = container.env.iter().flatten();
            let env = env.clone().find(|e| e.name == AMQP_CA_ENV).unwrap();
            assert_eq!(
                env.value.as_deref(),
                Some("/etc/koinos/amqp-ca/ca.crt"),
                "{name}"
            );
        }
    }

    #[test]
    fn the_chain_container_reads_the_ca_where_it_is_mounted() {
        let vc = validated(&tls_cluster());
        let desired = build(&vc, &generated());
        let (_, chain) = pod_specs(&desired)
            .into_iter()
            .find(|(name, _)| name == "ext-chain")
            .unwrap();
        let container = &chain.containers[0];
        let ca_env: Vec<_> = container
            .env
            .iter()
            .flatten()
            .filter(|e| e.name.starts_with("KOINOS_AMQP"))
            .collect();
        insta::assert_yaml_snapshot!((ca_env, &container.volume_mounts));
    }

    #[test]
    fn without_tls_no_workload_gets_a_ca() {
        let vc = validated(EXTERNAL_BROKER);
        for (name, spec) in pod_specs(&build(&vc, &generated())) {
            assert!(
                spec.volumes.iter().flatten().all(|v| v.name != VOLUME),
                "{name}"
            );
            let env = spec.containers[0].env.iter().flatten();
            assert!(env.clone().all(|e| e.name != AMQP_CA_ENV), "{name}");
        }
    }

    #[test]
    fn an_external_broker_gets_no_network_policy_that_could_block_its_port() {
        // The only NetworkPolicy the operator writes admits clients into the managed broker;
        // the pods' egress to an external broker, on 5671 or any port, is never restricted.
        let vc = validated(&tls_cluster());
        assert!(build(&vc, &generated()).network_policies.is_empty());
    }

    #[test]
    fn a_missing_ca_secret_is_a_user_input_named_by_its_field() {
        use crate::model::naming::user_inputs;
        let vc = validated(&tls_cluster());
        let ca = user_inputs(&vc)
            .into_iter()
            .find(|i| i.reason == "MissingBrokerCaSecret")
            .expect("the CA Secret is an input the pods wait for");
        assert_eq!(
            (ca.name.as_str(), ca.key.as_str(), ca.field.as_str()),
            ("broker-ca", "ca.pem", "spec.amqp.external.tls.caSecretRef")
        );
    }

    #[test]
    fn a_ca_reference_without_a_name_is_refused_naming_the_field() {
        let manifest = tls_cluster().replace("name: broker-ca", "name: ''");
        let err = crate::model::validate(&crate::test_support::fixture(&manifest), "prod")
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.amqp.external.tls.caSecretRef"), "{err}");
    }
}
