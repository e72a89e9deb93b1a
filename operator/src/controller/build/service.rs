//! A Kubernetes Service per Koinos service: the client port (jsonrpc 8080, grpc 50051,
//! p2p 8888; type configurable) plus metrics 9100. Services without a client port get a
//! headless Service (metrics scraping and the StatefulSet's pod DNS).
//!
//! The metrics port stays inside the cluster: a Service of type LoadBalancer or NodePort
//! (reachable from outside) carries only the client port. Prometheus scrapes the pods' `metrics`
//! port (the PodMonitor of `spec.monitoring`, see `monitoring.rs`), never through such a
//! Service.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{object_meta, selector_labels};
use crate::crd::service::ServiceType;
use crate::model::naming::child_name;
use crate::model::profile::METRICS_PORT;
use crate::model::{ValidatedCluster, ValidatedService};

/// Whether a Service of this type may carry the metrics port: only one reachable from inside
/// the cluster alone (ClusterIP, headless); never a LoadBalancer or NodePort.
pub fn carries_metrics(service_type: &str) -> bool {
    service_type == ServiceType::ClusterIP.as_str()
}

pub fn build_service_service(vc: &ValidatedCluster, svc: &ValidatedService) -> Service {
    let profile = svc.profile;
    let mut metadata = object_meta(vc, child_name(vc, profile.component), profile.component);
    let mut ports = Vec::new();
    let (type_, cluster_ip): (&str, _) = match profile.main_port() {
        Some(main) => {
            ports.push(ServicePort {
                name: Some(main.name.into()),
                port: svc.exposure.port.unwrap_or(main.port),
                target_port: Some(IntOrString::String(main.name.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            });
            if !svc.exposure.annotations.is_empty() {
                metadata.annotations = Some(svc.exposure.annotations.clone());
            }
            (svc.exposure.type_.as_str(), None)
        }
        None => ("ClusterIP", Some("None".to_string())),
    };
    if carries_metrics(type_) {
        ports.push(ServicePort {
            name: Some(METRICS_PORT.name.into()),
            port: METRICS_PORT.port,
            target_port: Some(IntOrString::String(METRICS_PORT.name.into())),
            protocol: Some("TCP".into()),
            ..Default::default()
        });
    }
    // Only a client Service takes the external settings (validation refuses them elsewhere).
    let exposure = profile.main_port().map(|_| &svc.exposure);
    let load_balancer_source_ranges = exposure
        .map(|e| e.load_balancer_source_ranges.clone())
        .filter(|r| !r.is_empty() && type_ == ServiceType::LoadBalancer.as_str());
    let external_traffic_policy = exposure
        .and_then(|e| e.external_traffic_policy)
        .filter(|_| !carries_metrics(type_))
        .map(|p| p.as_str().to_string());
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(type_.into()),
            cluster_ip,
            load_balancer_source_ranges,
            external_traffic_policy,
            selector: Some(selector_labels(vc, profile.component)),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ServiceKind;
    use crate::test_support::{API_NODE, DEVNET, validated};

    #[test]
    fn gateway_service_snapshot() {
        let vc = validated(API_NODE);
        insta::assert_yaml_snapshot!(build_service_service(
            &vc,
            vc.service(ServiceKind::Jsonrpc).unwrap()
        ));
    }

    #[test]
    fn ports_by_service() {
        let vc = validated(API_NODE);
        let ports = |kind| {
            let s = build_service_service(&vc, vc.service(kind).unwrap());
            let spec = s.spec.unwrap();
            (
                spec.type_.unwrap(),
                spec.ports
                    .unwrap()
                    .iter()
                    .map(|p| p.port)
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            ports(ServiceKind::Jsonrpc),
            ("LoadBalancer".into(), vec![80]),
            "the metrics port is never on a public load balancer"
        );
        assert_eq!(ports(ServiceKind::P2p), ("LoadBalancer".into(), vec![8888]));
        assert_eq!(
            ports(ServiceKind::BlockStore),
            ("ClusterIP".into(), vec![9100])
        );
    }

    #[test]
    fn source_ranges_and_traffic_policy_on_external_services() {
        let vc = validated(&format!(
            "{DEVNET}  services:\n    jsonrpc: {{service: {{type: LoadBalancer, loadBalancerSourceRanges: [203.0.113.0/24, \"2001:db8::/32\"], externalTrafficPolicy: Local}}}}\n    grpc: {{service: {{type: NodePort, externalTrafficPolicy: Cluster}}}}\n"
        ));
        let spec = |kind| {
            build_service_service(&vc, vc.service(kind).unwrap())
                .spec
                .unwrap()
        };
        let jsonrpc = spec(ServiceKind::Jsonrpc);
        assert_eq!(
            jsonrpc.load_balancer_source_ranges,
            Some(vec!["203.0.113.0/24".into(), "2001:db8::/32".into()])
        );
        assert_eq!(jsonrpc.external_traffic_policy.as_deref(), Some("Local"));
        let grpc = spec(ServiceKind::Grpc);
        assert_eq!(grpc.load_balancer_source_ranges, None);
        assert_eq!(grpc.external_traffic_policy.as_deref(), Some("Cluster"));
        let chain = spec(ServiceKind::Chain);
        assert_eq!(chain.load_balancer_source_ranges, None);
        assert_eq!(chain.external_traffic_policy, None);
    }

    /// Every exposure a client Service can have: metrics only on ClusterIP.
    #[test]
    fn metrics_port_only_on_cluster_internal_services() {
        for (type_, metrics) in [
            ("ClusterIP", true),
            ("NodePort", false),
            ("LoadBalancer", false),
        ] {
            for svc in ["jsonrpc", "grpc", "p2p"] {
                let yaml = format!(
                    "{DEVNET}  services: {{{svc}: {{enabled: true, service: {{type: {type_}}}}}}}\n"
                );
                let vc = validated(&yaml);
                let kind = match svc {
                    "jsonrpc" => ServiceKind::Jsonrpc,
                    "grpc" => ServiceKind::Grpc,
                    _ => ServiceKind::P2p,
                };
                let service = build_service_service(&vc, vc.service(kind).unwrap());
                let spec = service.spec.unwrap();
                assert_eq!(spec.type_.as_deref(), Some(type_));
                let names: Vec<_> = spec
                    .ports
                    .unwrap()
                    .into_iter()
                    .filter_map(|p| p.name)
                    .collect();
                assert_eq!(
                    names.contains(&METRICS_PORT.name.to_string()),
                    metrics,
                    "{svc} {type_}: {names:?}"
                );
            }
        }
    }
}
