//! The Ingress of `spec.services.<svc>.ingress` (jsonrpc, grpc): `host` + `path` to the client
//! port of the service's Service, TLS with the user's Secret, the user's annotations (the
//! controller's own settings: rate limits, backend protocol, ...). Named like the Service.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::meta::object_meta;
use crate::model::naming::child_name;
use crate::model::{ValidatedCluster, ValidatedService};

pub fn build_ingress(vc: &ValidatedCluster, svc: &ValidatedService) -> Option<Ingress> {
    let settings = svc.ingress.as_ref()?;
    let main = svc.profile.main_port()?;
    let name = child_name(vc, svc.profile.component);
    let mut metadata = object_meta(vc, name.clone(), svc.profile.component);
    if !settings.annotations.is_empty() {
        metadata.annotations = Some(settings.annotations.clone());
    }
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name,
            port: Some(ServiceBackendPort {
                name: Some(main.name.into()),
                number: None,
            }),
        }),
        resource: None,
    };
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: settings.ingress_class_name.clone(),
            tls: settings.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: settings.host.clone().map(|h| vec![h]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: settings.host.clone(),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(settings.path.clone()),
                        path_type: settings.path_type.as_str().into(),
                        backend,
                    }],
                }),
            }]),
            default_backend: None,
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ServiceKind;
    use crate::test_support::{DEVNET, validated};

    const EXPOSED: &str = r#"  services:
    jsonrpc:
      service: {type: LoadBalancer, loadBalancerSourceRanges: [203.0.113.0/24], externalTrafficPolicy: Local}
      ingress:
        host: rpc.example.com
        ingressClassName: nginx
        tlsSecretName: rpc-tls
        annotations: {nginx.ingress.kubernetes.io/limit-rps: "10"}
    grpc:
      ingress:
        host: grpc.example.com
        path: /koinos
        pathType: ImplementationSpecific
        annotations: {nginx.ingress.kubernetes.io/backend-protocol: GRPC}
"#;

    #[test]
    fn jsonrpc_ingress_snapshot() {
        let vc = validated(&format!("{DEVNET}{EXPOSED}"));
        let ingress = build_ingress(&vc, vc.service(ServiceKind::Jsonrpc).unwrap()).unwrap();
        insta::assert_yaml_snapshot!(ingress);
    }

    #[test]
    fn grpc_ingress_routes_its_port_without_tls() {
        let vc = validated(&format!("{DEVNET}{EXPOSED}"));
        let ingress = build_ingress(&vc, vc.service(ServiceKind::Grpc).unwrap()).unwrap();
        assert_eq!(ingress.metadata.name.as_deref(), Some("devnet-grpc"));
        let spec = ingress.spec.unwrap();
        assert_eq!(spec.tls, None);
        assert_eq!(spec.ingress_class_name, None);
        let rule = &spec.rules.unwrap()[0];
        assert_eq!(rule.host.as_deref(), Some("grpc.example.com"));
        let path = &rule.http.as_ref().unwrap().paths[0];
        assert_eq!(path.path.as_deref(), Some("/koinos"));
        assert_eq!(path.path_type, "ImplementationSpecific");
        let backend = path.backend.service.as_ref().unwrap();
        assert_eq!(backend.name, "devnet-grpc");
        assert_eq!(backend.port.as_ref().unwrap().name.as_deref(), Some("grpc"));
    }

    #[test]
    fn no_ingress_unless_asked() {
        let vc = validated(DEVNET);
        for svc in &vc.services {
            assert_eq!(build_ingress(&vc, svc), None, "{:?}", svc.kind());
        }
    }
}
