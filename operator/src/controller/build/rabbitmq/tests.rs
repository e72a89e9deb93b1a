use super::*;
use crate::model::Amqp;
use crate::test_support::{API_NODE, DEVNET, generated, validated};

fn broker(vc: &ValidatedCluster) -> &ManagedBroker {
    match &vc.amqp {
        Amqp::Managed(broker) => broker,
        Amqp::External { .. } => panic!("fixture has a managed broker"),
    }
}

#[test]
fn statefulset_snapshot() {
    let vc = validated(API_NODE);
    insta::assert_yaml_snapshot!(build_rabbitmq_statefulset(&vc, broker(&vc)));
}

#[test]
fn config_snapshot_caps_message_size_and_clusters_nodes() {
    let vc = validated(API_NODE);
    let conf = render_rabbitmq_conf(&vc, broker(&vc));
    assert!(conf.contains("max_message_size = 536870912"), "{conf}");
    assert!(conf.contains(
        "cluster_formation.classic_config.nodes.3 = rabbit@mainnet-rabbitmq-2.mainnet-rabbitmq-headless.koinos.svc.cluster.local"
    ));
    insta::assert_snapshot!(conf);
}

#[test]
fn credentials_secret_has_url_and_never_guest() {
    let vc = validated(DEVNET);
    let secret = build_amqp_secret(&vc, generated().amqp.as_ref().unwrap());
    assert_eq!(secret.metadata.name.as_deref(), Some("devnet-amqp"));
    let data = secret.data.unwrap();
    let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    assert_eq!(
        text(AMQP_URL_KEY),
        "amqp://koinos:s3cretPassw0rdForTests@devnet-rabbitmq.koinos.svc:5672/"
    );
    assert!(!text(AMQP_URL_KEY).contains("guest"));
    assert!(text(CREDENTIALS_CONF_KEY).contains("default_pass = s3cretPassw0rdForTests"));
    assert!(format!("{:?}", generated().amqp.unwrap()).contains("koinos"));
    assert!(
        !format!("{:?}", generated().amqp.unwrap()).contains("s3cret"),
        "Debug hides the password"
    );
}

#[test]
fn services_snapshot() {
    let vc = validated(DEVNET);
    insta::assert_yaml_snapshot!("headless", build_rabbitmq_headless_service(&vc));
    insta::assert_yaml_snapshot!("client", build_rabbitmq_client_service(&vc));
}

#[test]
fn network_policy_admits_amqp_only_from_cluster_pods_and_operator() {
    let vc = validated(DEVNET);
    let policy = build_rabbitmq_network_policy(&vc);
    insta::assert_yaml_snapshot!(policy);
    let spec = policy.spec.unwrap();
    let amqp_rule = &spec.ingress.as_ref().unwrap()[0];
    assert_eq!(
        amqp_rule.ports.as_ref().unwrap()[0].port,
        Some(IntOrString::Int(5672))
    );
    for peer in amqp_rule.from.as_ref().unwrap() {
        assert!(
            peer.pod_selector.as_ref().unwrap().match_labels.is_some(),
            "no open AMQP peer"
        );
        assert!(peer.ip_block.is_none());
    }
    let from_cluster = amqp_rule.from.as_ref().unwrap()[0]
        .pod_selector
        .as_ref()
        .unwrap()
        .match_labels
        .as_ref()
        .unwrap();
    assert_eq!(from_cluster["app.kubernetes.io/instance"], "devnet");
    // Other rules never open the AMQP port.
    for rule in &spec.ingress.unwrap()[1..] {
        assert!(
            rule.ports
                .as_ref()
                .unwrap()
                .iter()
                .all(|p| p.port != Some(IntOrString::Int(5672)))
        );
    }
}
