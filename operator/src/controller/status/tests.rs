use super::*;
use crate::controller::apply::{MonitoringOutcome, RoutesOutcome};
use crate::model::profile::ServiceKind;

fn at(seconds: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
}

fn observed(ready: &[(&str, i32, i32)], broker: Option<bool>) -> Observed {
    Observed {
        broker_ready: broker,
        broker_rolling_out: None,
        services: ready
            .iter()
            .map(|(name, desired, ready)| ObservedService {
                spec_name: name.to_string(),
                desired: *desired,
                ready: *ready,
                image: "img:v1".into(),
            })
            .collect(),
        broker: None,
        missing: Vec::new(),
        p2p: None,
        p2p_announce: None,
        monitoring: None,
        routes: None,
        broker_users: None,
    }
}

fn cond<'a>(s: &'a KoinosClusterStatus, type_: &str) -> &'a Condition {
    find(s, type_).unwrap_or_else(|| panic!("{type_} missing"))
}

#[test]
fn a_broker_rollout_is_named_by_broker_ready_and_leaves_available_alone() {
    let mut obs = observed(&[("chain", 1, 1)], Some(true));
    obs.broker_rolling_out = Some(3);
    let s = compute_status(None, Some(3), &Outcome::Applied, Some(&obs), false, at(100));
    let broker = cond(&s, BROKER_READY);
    assert_eq!(
        (broker.status.as_str(), broker.reason.as_str()),
        ("False", "BrokerRollingOut")
    );
    assert!(
        broker.message.contains("one at a time"),
        "{}",
        broker.message
    );
    assert_eq!(cond(&s, AVAILABLE).status, "True");
    // One node: even with no node ready the reason is the rollout, and it says what happens.
    let mut single = observed(&[("chain", 1, 1)], Some(false));
    single.broker_rolling_out = Some(1);
    let s = compute_status(
        None,
        Some(3),
        &Outcome::Applied,
        Some(&single),
        false,
        at(100),
    );
    let broker = cond(&s, BROKER_READY);
    assert_eq!(broker.reason, "BrokerRollingOut");
    assert!(
        broker.message.contains("reconnect and re-send"),
        "{}",
        broker.message
    );
    assert_eq!(cond(&s, AVAILABLE).status, "False");
    // Done: BrokerReady again.
    single.broker_rolling_out = None;
    single.broker_ready = Some(true);
    let s = compute_status(
        Some(&s),
        Some(3),
        &Outcome::Applied,
        Some(&single),
        false,
        at(200),
    );
    assert_eq!(cond(&s, BROKER_READY).reason, "BrokerReady");
}

#[test]
fn broker_users_that_could_not_be_made_are_named_by_broker_ready() {
    let mut obs = observed(&[("chain", 1, 1)], Some(true));
    obs.broker_users = Some(crate::broker::users::UsersOutcome::Failed {
        users: vec!["chain".into(), "indexer".into()],
        unreachable: false,
        detail: "PUT /api/users/chain-x: HTTP 400".into(),
    });
    let s = compute_status(None, Some(3), &Outcome::Applied, Some(&obs), false, at(100));
    let broker = cond(&s, BROKER_READY);
    assert_eq!(broker.status, "False");
    assert_eq!(broker.reason, "BrokerUsersNotProvisioned");
    assert_eq!(
        broker.message,
        "the broker users of chain, indexer could not be provisioned: its management API refused"
    );
    // A pass that did not try (caches not synced after a restart) keeps the failure: no write.
    obs.broker_users = Some(crate::broker::users::UsersOutcome::BrokerNotReady);
    let again = compute_status(
        Some(&s),
        Some(3),
        &Outcome::Applied,
        Some(&obs),
        false,
        at(200),
    );
    assert_eq!(again, s);
    obs.broker_users = None;
    let again = compute_status(
        Some(&s),
        Some(3),
        &Outcome::Applied,
        Some(&obs),
        false,
        at(200),
    );
    assert_eq!(again, s);
    obs.broker_users = Some(crate::broker::users::UsersOutcome::Provisioned {
        retired: vec![],
        retiring: vec!["chain-old00000".into()],
    });
    let s = compute_status(None, Some(3), &Outcome::Applied, Some(&obs), false, at(100));
    assert_eq!(cond(&s, BROKER_READY).status, "True");
}

#[test]
fn healthy_cluster_is_ready_and_idle() {
    let obs = observed(&[("chain", 1, 1), ("blockStore", 2, 2)], Some(true));
    let s = compute_status(None, Some(3), &Outcome::Applied, Some(&obs), false, at(100));
    assert_eq!(cond(&s, READY).status, "True");
    assert_eq!(cond(&s, AVAILABLE).status, "True");
    assert_eq!(cond(&s, RECONCILING).status, "False");
    assert_eq!(cond(&s, STALLED).status, "False");
    assert_eq!(cond(&s, BROKER_READY).status, "True");
    assert_eq!(cond(&s, RECONCILIATION_PAUSED).status, "False");
    assert_eq!(s.services_ready.as_deref(), Some("2/2"));
    assert_eq!(s.services["blockStore"].ready_replicas, 2);
    assert!(
        s.conditions
            .iter()
            .all(|c| c.observed_generation == Some(3))
    );
}

#[test]
fn unchanged_inputs_give_an_identical_status_so_no_patch() {
    let obs = observed(&[("chain", 1, 1)], Some(true));
    let first = compute_status(None, Some(1), &Outcome::Applied, Some(&obs), false, at(100));
    let second = compute_status(
        Some(&first),
        Some(1),
        &Outcome::Applied,
        Some(&obs),
        false,
        at(999),
    );
    assert_eq!(first, second);
}

#[test]
fn transition_time_moves_only_for_flipped_conditions() {
    let up = observed(&[("chain", 1, 1), ("mempool", 2, 2)], Some(true));
    let first = compute_status(None, Some(1), &Outcome::Applied, Some(&up), false, at(100));
    let degraded = observed(&[("chain", 1, 1), ("mempool", 2, 1)], Some(true));
    let second = compute_status(
        Some(&first),
        Some(1),
        &Outcome::Applied,
        Some(&degraded),
        false,
        at(200),
    );
    assert_eq!(cond(&second, READY).status, "False");
    assert_eq!(cond(&second, READY).last_transition_time, at(200));
    assert_eq!(cond(&second, RECONCILING).status, "True");
    assert_eq!(
        cond(&second, AVAILABLE).status,
        "True",
        "every service still has a ready pod"
    );
    assert_eq!(cond(&second, AVAILABLE).last_transition_time, at(100));
    assert_eq!(cond(&second, STALLED).last_transition_time, at(100));
    assert_eq!(second.services_ready.as_deref(), Some("1/2"));
}

#[test]
fn invalid_spec_stalls_with_the_message_and_keeps_service_status() {
    let obs = observed(&[("chain", 1, 1)], Some(true));
    let first = compute_status(None, Some(1), &Outcome::Applied, Some(&obs), false, at(100));
    let invalid = Outcome::Invalid("spec.services.chain.replicas: chain is a singleton".into());
    let s = compute_status(Some(&first), Some(2), &invalid, None, false, at(200));
    assert_eq!(cond(&s, STALLED).status, "True");
    assert_eq!(cond(&s, STALLED).reason, "InvalidSpec");
    assert!(
        cond(&s, STALLED)
            .message
            .contains("spec.services.chain.replicas")
    );
    assert_eq!(cond(&s, READY).status, "False");
    assert_eq!(
        cond(&s, RECONCILING).status,
        "False",
        "nothing to do until the spec changes"
    );
    assert_eq!(s.services, first.services);
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(
        cond(&s, BROKER_READY).status,
        "True",
        "last known broker state kept"
    );
}

#[test]
fn paused_stopped_and_external_broker() {
    let obs = observed(&[("chain", 1, 1)], None);
    let paused = compute_status(None, Some(1), &Outcome::Paused, Some(&obs), false, at(1));
    assert_eq!(cond(&paused, RECONCILIATION_PAUSED).status, "True");
    assert_eq!(cond(&paused, BROKER_READY).status, "Unknown");

    let stopped_obs = observed(&[("chain", 0, 0)], Some(false));
    let stopped = compute_status(
        None,
        Some(1),
        &Outcome::Applied,
        Some(&stopped_obs),
        true,
        at(1),
    );
    assert_eq!(cond(&stopped, AVAILABLE).status, "False");
    assert_eq!(cond(&stopped, AVAILABLE).reason, "Stopped");
    assert_eq!(stopped.services_ready.as_deref(), Some("0/1"));
}

#[test]
fn transient_failure_reconciles_and_permanent_failure_stalls() {
    let obs = observed(&[("chain", 1, 1)], Some(true));
    let transient = Outcome::Failed {
        message: "applying Service x: timeout".into(),
        permanent: false,
    };
    let s = compute_status(None, Some(1), &transient, Some(&obs), false, at(1));
    assert_eq!(cond(&s, RECONCILING).status, "True");
    assert_eq!(cond(&s, RECONCILING).reason, "RetryingAfterError");
    assert_eq!(cond(&s, STALLED).status, "False");
    let permanent = Outcome::Failed {
        message: "applying StatefulSet x: 422".into(),
        permanent: true,
    };
    let s = compute_status(None, Some(1), &permanent, Some(&obs), false, at(1));
    assert_eq!(cond(&s, STALLED).status, "True");
    assert_eq!(cond(&s, STALLED).reason, "ApplyRejected");
}

#[test]
fn a_missing_input_stalls_naming_the_object_instead_of_pods_that_hang() {
    let mut obs = observed(&[("chain", 1, 0)], Some(true));
    obs.missing = vec![MissingInput {
        reason: "MissingGenesis",
        message: "ConfigMap koinos/mainnet-genesis (named by spec.network.genesis.configMapRef) does not exist: the pods that need it wait until it does".into(),
    }];
    let s = compute_status(None, Some(2), &Outcome::Applied, Some(&obs), false, at(100));
    let stalled = cond(&s, STALLED);
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "MissingGenesis")
    );
    assert!(stalled.message.contains("ConfigMap koinos/mainnet-genesis"));
    assert_eq!(cond(&s, READY).reason, "MissingGenesis");
    assert_eq!(cond(&s, READY).status, "False");
    assert_eq!(cond(&s, RECONCILING).status, "False", "waits for a change");
}

#[test]
fn missing_messages_name_the_object_its_key_and_the_field() {
    use crate::model::naming::{InputKind, UserInput};
    let input = UserInput {
        kind: InputKind::Secret,
        name: "producer".into(),
        key: "wif".into(),
        field: "spec.services.blockProducer.privateKeySecretRef".into(),
        reason: "MissingProducerKey",
    };
    assert_eq!(
        missing_message("Secret", "prod", &input, None).unwrap(),
        "Secret prod/producer (named by spec.services.blockProducer.privateKeySecretRef) does not exist: the pods that need it wait until it does"
    );
    assert_eq!(
        missing_message("Secret", "prod", &input, Some(&["key".into()])).unwrap(),
        "Secret prod/producer (named by spec.services.blockProducer.privateKeySecretRef) has no key wif"
    );
    assert_eq!(
        missing_message("Secret", "prod", &input, Some(&["wif".into()])),
        None
    );
}

#[test]
fn user_inputs_are_the_objects_the_operator_does_not_make() {
    use crate::model::naming::user_inputs;
    use crate::test_support::{API_NODE, DEVNET, EXTERNAL_BROKER, MAINNET, validated};
    let reasons = |manifest: &str| -> Vec<(String, String, &'static str)> {
        user_inputs(&validated(manifest))
            .into_iter()
            .map(|i| (i.name, i.field, i.reason))
            .collect()
    };
    assert_eq!(reasons(DEVNET), []);
    assert_eq!(reasons(MAINNET), []);
    assert_eq!(
        reasons(API_NODE),
        [(
            "mainnet-genesis".into(),
            "spec.network.genesis.configMapRef".into(),
            "MissingGenesis"
        )]
    );
    assert_eq!(
        reasons(EXTERNAL_BROKER),
        [
            (
                "harbinger-genesis".into(),
                "spec.network.genesis.configMapRef".into(),
                "MissingGenesis"
            ),
            (
                "producer".into(),
                "spec.services.blockProducer.privateKeySecretRef".into(),
                "MissingProducerKey"
            ),
            (
                "broker".into(),
                "spec.amqp.external.urlSecretRef".into(),
                "MissingBrokerSecret"
            ),
        ]
    );
    let own = MAINNET.replace("mainnet: {}", "mainnet: {genesisConfigMapRef: {name: g}}");
    assert_eq!(
        reasons(&own),
        [(
            "g".into(),
            "spec.network.mainnet.genesisConfigMapRef".into(),
            "MissingGenesis"
        )]
    );
}

#[test]
fn p2p_identity_is_published_for_other_clusters_to_dial() {
    let vc = crate::test_support::validated(&format!(
        "{}  services: {{p2p: {{enabled: true}}}}\n",
        crate::test_support::DEVNET
    ));
    let p2p = p2p_status(&vc, vc.service(ServiceKind::P2p).unwrap(), "some seed");
    assert_eq!(
        p2p.peer_id,
        koinos_protocol::p2p_identity::peer_id("some seed")
    );
    assert_eq!(
        p2p.address,
        format!(
            "/dns4/devnet-p2p.{}.svc/tcp/8888/p2p/{}",
            vc.namespace, p2p.peer_id
        )
    );
    assert_eq!(p2p.external_address, None, "nothing announced");
    let mut obs = observed(&[("p2p", 1, 1)], Some(true));
    obs.p2p = Some(p2p.clone());
    let s = compute_status(None, Some(1), &Outcome::Applied, Some(&obs), false, at(100));
    assert_eq!(s.p2p, Some(p2p));
    // gone with p2p (or with an image whose key the operator cannot know)
    obs.p2p = None;
    let s = compute_status(
        Some(&s),
        Some(2),
        &Outcome::Applied,
        Some(&obs),
        false,
        at(200),
    );
    assert_eq!(s.p2p, None);
}

#[test]
fn monitoring_is_a_condition_of_its_own_that_never_stalls_the_cluster() {
    let ready = [("chain", 1, 1), ("jsonrpc", 1, 1)];
    let pass = |old: Option<&KoinosClusterStatus>, outcome: Option<MonitoringOutcome>| {
        let observed = Observed {
            monitoring: outcome,
            ..observed(&ready, Some(true))
        };
        compute_status(
            old,
            Some(1),
            &Outcome::Applied,
            Some(&observed),
            false,
            at(100),
        )
    };
    let missing = pass(None, Some(MonitoringOutcome::CrdMissing));
    let c = cond(&missing, MONITORING);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "PrometheusOperatorMissing")
    );
    assert!(
        c.message.contains("spec.monitoring.podMonitor")
            && c.message.contains("monitoring.coreos.com/v1 PodMonitor"),
        "{}",
        c.message
    );
    assert_eq!(
        cond(&missing, READY).status,
        "True",
        "monitoring is optional"
    );
    assert_eq!(cond(&missing, STALLED).status, "False");
    // A pass that did not reach the PodMonitor (paused, failed) keeps what was known.
    let kept = pass(Some(&missing), None);
    assert_eq!(cond(&kept, MONITORING), cond(&missing, MONITORING));
    let applied = pass(
        Some(&missing),
        Some(MonitoringOutcome::Applied {
            name: "devnet-metrics".into(),
        }),
    );
    let c = cond(&applied, MONITORING);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "PodMonitorApplied")
    );
    assert!(c.message.contains("devnet-metrics"));
    let off = pass(Some(&applied), Some(MonitoringOutcome::Disabled));
    assert!(
        find(&off, MONITORING).is_none(),
        "no condition while monitoring is off"
    );
}

#[test]
fn routes_are_a_condition_of_their_own_that_never_stalls_the_cluster() {
    let ready = [("chain", 1, 1), ("jsonrpc", 1, 1)];
    let pass = |old: Option<&KoinosClusterStatus>, outcome: Option<RoutesOutcome>| {
        let observed = Observed {
            routes: outcome,
            ..observed(&ready, Some(true))
        };
        compute_status(
            old,
            Some(1),
            &Outcome::Applied,
            Some(&observed),
            false,
            at(100),
        )
    };
    let missing = pass(
        None,
        Some(RoutesOutcome::CrdMissing {
            kinds: vec!["HTTPRoute", "GRPCRoute"],
            applied: Vec::new(),
        }),
    );
    let c = cond(&missing, ROUTES);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "GatewayApiMissing")
    );
    assert!(
        c.message.contains("spec.services.<svc>.route")
            && c.message
                .contains("gateway.networking.k8s.io/v1 HTTPRoute, GRPCRoute"),
        "{}",
        c.message
    );
    assert_eq!(cond(&missing, READY).status, "True", "routes are optional");
    assert_eq!(cond(&missing, STALLED).status, "False");
    let kept = pass(Some(&missing), None);
    assert_eq!(cond(&kept, ROUTES), cond(&missing, ROUTES));
    let applied = pass(
        Some(&missing),
        Some(RoutesOutcome::Applied {
            routes: vec!["HTTPRoute/devnet-jsonrpc".into()],
        }),
    );
    let c = cond(&applied, ROUTES);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "RoutesApplied")
    );
    assert!(c.message.contains("HTTPRoute/devnet-jsonrpc"));
    let off = pass(Some(&applied), Some(RoutesOutcome::Disabled));
    assert!(find(&off, ROUTES).is_none(), "no condition without routes");
}

#[test]
fn p2p_announce_is_published_with_the_peer_id() {
    let spec = |p2p: &str| {
        crate::test_support::validated(&format!(
            "{}  services: {{p2p: {{enabled: true, {p2p}}}}}\n",
            crate::test_support::DEVNET
        ))
    };
    let id = koinos_protocol::p2p_identity::peer_id("some seed");
    for (p2p, external) in [
        (
            "announce: p2p.example.com",
            format!("/dns/p2p.example.com/tcp/8888/p2p/{id}"),
        ),
        (
            "announce: 203.0.113.7:30888, service: {type: NodePort}",
            format!("/ip4/203.0.113.7/tcp/30888/p2p/{id}"),
        ),
        (
            "announce: p2p.example.com, service: {type: LoadBalancer, port: 9000}",
            format!("/dns/p2p.example.com/tcp/9000/p2p/{id}"),
        ),
        (
            "announce: /dns4/p2p.example.com/tcp/8888",
            format!("/dns4/p2p.example.com/tcp/8888/p2p/{id}"),
        ),
    ] {
        let vc = spec(p2p);
        let status = p2p_status(&vc, vc.service(ServiceKind::P2p).unwrap(), "some seed");
        assert_eq!(status.external_address, Some(external), "{p2p}");
        assert!(status.address.starts_with("/dns4/devnet-p2p."), "{p2p}");
    }
}

#[test]
fn p2p_announced_says_where_the_address_comes_from_and_waits_for_the_load_balancer() {
    use crate::model::announce::P2pAnnounce;

    let pass = |announce: Option<P2pAnnounce>, old: Option<&KoinosClusterStatus>| {
        let mut obs = observed(&[("p2p", 1, 1)], Some(true));
        obs.p2p_announce = announce;
        compute_status(old, Some(1), &Outcome::Applied, Some(&obs), false, at(100))
    };
    let waiting = pass(Some(P2pAnnounce::WaitingForLoadBalancer), None);
    let condition = find(&waiting, P2P_ANNOUNCED).unwrap();
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", "WaitingForLoadBalancer")
    );
    assert!(
        is_true(Some(&waiting), READY),
        "p2p waits, the cluster does not"
    );
    let address = "/ip4/203.0.113.7/tcp/8888".to_string();
    let announced = pass(
        Some(P2pAnnounce::LoadBalancer(address.clone())),
        Some(&waiting),
    );
    let condition = find(&announced, P2P_ANNOUNCED).unwrap();
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("True", "LoadBalancerAddress")
    );
    assert!(
        condition.message.contains(&address),
        "{}",
        condition.message
    );
    let configured = pass(Some(P2pAnnounce::Configured(address)), Some(&announced));
    assert_eq!(
        find(&configured, P2P_ANNOUNCED).unwrap().reason,
        "Configured"
    );
    assert!(find(&pass(None, Some(&configured)), P2P_ANNOUNCED).is_none());
    let invalid = compute_status(
        Some(&configured),
        Some(2),
        &Outcome::Invalid("bad".into()),
        None,
        false,
        at(200),
    );
    assert_eq!(find(&invalid, P2P_ANNOUNCED).unwrap().reason, "Configured");
}
