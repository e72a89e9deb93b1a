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
fn only_a_multi_node_broker_hands_over_before_a_node_stops() {
    let container = |vc: &ValidatedCluster| {
        let sts = build_rabbitmq_statefulset(vc, broker(vc));
        let pod = sts.spec.unwrap().template.spec.unwrap();
        assert_eq!(
            pod.termination_grace_period_seconds,
            Some(TERMINATION_GRACE_SECONDS)
        );
        pod.containers.into_iter().next().unwrap()
    };
    let multi = validated(API_NODE);
    assert_eq!(broker(&multi).replicas, 3);
    let hook = container(&multi).lifecycle.unwrap().pre_stop.unwrap();
    let command = hook.exec.unwrap().command.unwrap();
    let script = &command[2];
    // Quorum, then mirrors, then the drain, which runs even when a wait fails or times out.
    let quorum = script.find("await_online_quorum_plus_one").unwrap();
    let mirrors = script.find("await_online_synchronized_mirror").unwrap();
    let drain = script.find("|| true; rabbitmq-upgrade drain").unwrap();
    assert!(quorum < mirrors && mirrors < drain, "{script}");
    // Three steps of SHUTDOWN_STEP_SECONDS (they fit in the grace period: a const assertion).
    assert_eq!(
        script
            .matches(&format!("-t {SHUTDOWN_STEP_SECONDS}"))
            .count(),
        3
    );

    let single = validated(DEVNET);
    assert_eq!(broker(&single).replicas, 1);
    let container = container(&single);
    assert_eq!(container.lifecycle, None);
    assert!(container.readiness_probe.is_some());
    assert_eq!(container.liveness_probe, None);
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
fn a_rotated_secret_names_the_new_admin_and_the_one_it_retires() {
    let vc = validated(DEVNET);
    let before = generated().amqp.unwrap();
    assert!(
        !build_amqp_secret(&vc, &before)
            .data
            .unwrap()
            .contains_key(RETIRING_USERNAME_KEY)
    );
    let rotated = AmqpCredentials {
        username: "koinos-new12345".into(),
        password: "newPassword".into(),
        retiring_username: Some(before.username.clone()),
        ..before.clone()
    };
    let data = build_amqp_secret(&vc, &rotated).data.unwrap();
    let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    assert_eq!(text(AMQP_USERNAME_KEY), "koinos-new12345");
    assert!(text(AMQP_URL_KEY).starts_with("amqp://koinos-new12345:newPassword@"));
    assert!(text(CREDENTIALS_CONF_KEY).contains("default_user = koinos-new12345"));
    assert_eq!(text(RETIRING_USERNAME_KEY), before.username);
    // The cookie stays: a new one would need every node restarted at once.
    assert_eq!(text(ERLANG_COOKIE_KEY), before.erlang_cookie);
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
