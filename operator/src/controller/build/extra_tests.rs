use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::controller::build::{build, rabbitmq};
use crate::model::metric::METRIC_LABEL_QUEUE;
use crate::model::profile::AMQP_PORT;
use crate::test_support::{generated, validated};

/// A devnet with two extra services: an autoscaled indexer on its default queue and a
/// notifier with two replicas on a queue of its own.
pub const WITH_EXTRAS: &str = r#"
apiVersion: koinos.io/v1alpha1
kind: KoinosCluster
metadata: {name: devnet}
spec:
  network: {devnet: {}}
  podOverrides:
    nodeSelector: {pool: koinos}
    env: [{name: LOG_LEVEL, value: info}]
  extraServices:
    - name: indexer
      image: example.com/acme/indexer:1.2
      command: [/bin/indexer]
      args: [--amqp=$(KOINOS_AMQP_URL), --queue=$(KOINOS_RPC_QUEUE)]
      env: [{name: INDEXER_DB, value: "postgres://db"}]
      autoscaling: {enabled: true, maxReplicas: 5, targetQueueDepth: 10}
    - name: notifier
      image: example.com/acme/notifier:3
      queue: acme.notifications
      replicas: 2
"#;

fn extra<'a>(vc: &'a ValidatedCluster, name: &str) -> &'a ValidatedExtraService {
    vc.extra_services.iter().find(|e| e.name == name).unwrap()
}

fn env_names(template: &PodTemplateSpec) -> Vec<String> {
    template.spec.as_ref().unwrap().containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .collect()
}

#[test]
fn deployment_runs_the_users_image_with_the_broker_url_and_queue() {
    let vc = validated(WITH_EXTRAS);
    let deployment = build_extra_deployment(&vc, extra(&vc, "indexer"));
    insta::assert_yaml_snapshot!(deployment);
    assert_eq!(deployment.metadata.name.as_deref(), Some("devnet-indexer"));
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, None, "the HPA owns the replicas");
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.command, Some(vec!["/bin/indexer".to_string()]));
    assert_eq!(
        env_names(&spec.template),
        [
            "POD_NAME",
            "KOINOS_AMQP_URL",
            "KOINOS_RPC_QUEUE",
            "LOG_LEVEL",
            "INDEXER_DB"
        ]
    );
    let url = container.env.as_ref().unwrap()[1]
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (url.name.as_str(), url.key.as_str()),
        ("devnet-indexer-amqp", "url")
    );
    let queue = &container.env.as_ref().unwrap()[2];
    assert_eq!(queue.value.as_deref(), Some("koinos.rpc.indexer"));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(
        pod.node_selector.as_ref().unwrap()["pool"],
        "koinos",
        "cluster-wide podOverrides reach extra services"
    );

    let notifier = build_extra_deployment(&vc, extra(&vc, "notifier"));
    let spec = notifier.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.command, None, "the image's entrypoint");
    assert_eq!(
        container.env.as_ref().unwrap()[2].value.as_deref(),
        Some("acme.notifications")
    );
}

#[test]
fn the_brokers_network_policy_admits_extra_services() {
    let vc = validated(WITH_EXTRAS);
    let policy = rabbitmq::build_rabbitmq_network_policy(&vc);
    let deployment = build_extra_deployment(&vc, extra(&vc, "notifier"));
    let pod_labels = deployment
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap();
    let rules = policy.spec.unwrap().ingress.unwrap();
    let amqp = rules.iter().filter(|r| {
        r.ports
            .iter()
            .flatten()
            .any(|p| p.port == Some(IntOrString::Int(AMQP_PORT.port)))
    });
    let admitted = amqp.flat_map(|r| r.from.iter().flatten()).any(|peer| {
        peer.namespace_selector.is_none()
            && peer
                .pod_selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref())
                .is_some_and(|wanted| wanted.iter().all(|(k, v)| pod_labels.get(k) == Some(v)))
    });
    assert!(admitted, "no ingress rule selects {pod_labels:?}");
}

#[test]
fn autoscaling_is_on_the_queue_depth_through_the_metrics_api() {
    let vc = validated(WITH_EXTRAS);
    let hpa = build_extra_hpa(&vc, extra(&vc, "indexer")).unwrap();
    insta::assert_yaml_snapshot!(hpa);
    assert_eq!(hpa.spec.scale_target_ref.kind, "Deployment");
    assert_eq!(hpa.spec.scale_target_ref.name, "devnet-indexer");
    assert_eq!(hpa.spec.max_replicas, 5);
    let external = hpa.spec.metrics.as_ref().unwrap()[0]
        .external
        .as_ref()
        .unwrap();
    let labels = external.metric.selector.as_ref().unwrap();
    assert_eq!(
        labels.match_labels.as_ref().unwrap()[METRIC_LABEL_QUEUE],
        "koinos.rpc.indexer"
    );
    assert_eq!(external.target.average_value, Some(Quantity("10".into())));
    assert!(build_extra_hpa(&vc, extra(&vc, "notifier")).is_none());
}

#[test]
fn keda_scales_an_extra_service_on_its_queue() {
    let vc = validated(&WITH_EXTRAS.replace(
        "autoscaling: {enabled: true,",
        "autoscaling: {enabled: true, provider: keda,",
    ));
    let indexer = extra(&vc, "indexer");
    assert!(
        build_extra_hpa(&vc, indexer).is_none(),
        "KEDA makes the HPA"
    );
    let desired = build(&vc, &generated());
    let scaled = desired
        .scaled_objects
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("devnet-indexer"))
        .expect("a ScaledObject for the extra service");
    assert_eq!(
        scaled.spec.scale_target_ref.kind.as_deref(),
        Some("Deployment")
    );
    assert_eq!(
        scaled.spec.triggers[0].metadata["queueName"],
        "koinos.rpc.indexer"
    );
    assert_eq!(
        desired.trigger_authentications.len(),
        1,
        "the TriggerAuthentication comes with the first keda-scaled service, ours or not"
    );
}

#[test]
fn the_cluster_builds_every_child_of_its_extra_services() {
    let vc = validated(WITH_EXTRAS);
    let desired = build(&vc, &generated());
    let names = |objects: Vec<Option<&String>>| {
        objects
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<String>>()
    };
    let deployments = names(
        desired
            .deployments
            .iter()
            .map(|d| d.metadata.name.as_ref())
            .collect(),
    );
    assert!(deployments.contains(&"devnet-indexer".to_string()));
    assert!(deployments.contains(&"devnet-notifier".to_string()));
    let pdbs = names(
        desired
            .pdbs
            .iter()
            .map(|p| p.metadata.name.as_ref())
            .collect(),
    );
    assert!(
        pdbs.contains(&"devnet-indexer".to_string()),
        "up to 5 replicas"
    );
    assert!(pdbs.contains(&"devnet-notifier".to_string()), "2 replicas");
    let hpas = names(
        desired
            .hpas
            .iter()
            .map(|h| h.metadata.name.as_ref())
            .collect(),
    );
    assert_eq!(hpas, ["devnet-indexer"]);
    assert!(
        desired
            .services
            .iter()
            .all(|s| !s.metadata.name.as_deref().unwrap().ends_with("indexer")),
        "a queue consumer needs no Service"
    );
}

#[test]
fn a_stopped_cluster_stops_extra_services_and_their_autoscalers() {
    let vc = validated(&WITH_EXTRAS.replace(
        "network: {devnet: {}}",
        "network: {devnet: {}}\n  clusterOperation: {stopped: true}",
    ));
    let indexer = extra(&vc, "indexer");
    let deployment = build_extra_deployment(&vc, indexer);
    assert_eq!(deployment.spec.unwrap().replicas, Some(0));
    assert!(build_extra_hpa(&vc, indexer).is_none());
}

#[test]
fn the_services_own_env_wins_over_the_cluster_wide_one() {
    let vc = validated(&WITH_EXTRAS.replace(
        "env: [{name: INDEXER_DB, value: \"postgres://db\"}]",
        "env: [{name: LOG_LEVEL, value: debug}]",
    ));
    let template = build_extra_pod_template(&vc, extra(&vc, "indexer"));
    assert_eq!(
        env_names(&template),
        [
            "POD_NAME",
            "KOINOS_AMQP_URL",
            "KOINOS_RPC_QUEUE",
            "LOG_LEVEL"
        ]
    );
    let env = template.spec.unwrap().containers[0].env.clone().unwrap();
    assert_eq!(env[3].value.as_deref(), Some("debug"));
}
