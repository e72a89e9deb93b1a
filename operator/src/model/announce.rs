//! Where p2p's external address comes from: `spec.services.p2p.announce`, else the address the
//! cloud assigned p2p's Service of type LoadBalancer. That address is observed (the Service's
//! `status.loadBalancer`, read from the watch cache) and handed to the pure builders as an input.

use std::borrow::Cow;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::LoadBalancerStatus;

use super::profile::{P2P_PORT, ServiceKind};
use super::validate::is_dns_subdomain;
use super::{ValidatedCluster, ValidatedService};
use crate::crd::service::ServiceType;

/// p2p's external address and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum P2pAnnounce {
    /// `spec.services.p2p.announce`, as a multiaddr without `/p2p`.
    Configured(String),
    /// The LoadBalancer's first ingress address with the Service's p2p port.
    LoadBalancer(String),
    /// A LoadBalancer Service without `announce`, the cloud has not assigned an address yet.
    WaitingForLoadBalancer,
}

impl P2pAnnounce {
    /// The multiaddr (without `/p2p`) to announce, once there is one.
    pub fn address(&self) -> Option<&str> {
        match self {
            Self::Configured(a) | Self::LoadBalancer(a) => Some(a),
            Self::WaitingForLoadBalancer => None,
        }
    }
}

/// p2p's announce address given its Service's observed `status.loadBalancer` (`None`: no
/// Service seen yet). `None` when p2p announces nothing (no `announce`, not a LoadBalancer).
pub fn p2p_announce(
    p2p: &ValidatedService,
    load_balancer: Option<&LoadBalancerStatus>,
) -> Option<P2pAnnounce> {
    if let Some(configured) = &p2p.announce {
        return Some(P2pAnnounce::Configured(configured.clone()));
    }
    if p2p.exposure.type_ != ServiceType::LoadBalancer {
        return None;
    }
    let port = p2p.exposure.port.unwrap_or(P2P_PORT.port);
    let address = load_balancer
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|ingress| ingress.first())
        .and_then(|first| {
            let ip = first.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok());
            match (ip, first.hostname.as_deref()) {
                (Some(IpAddr::V4(ip)), _) => Some(format!("/ip4/{ip}/tcp/{port}")),
                (Some(IpAddr::V6(ip)), _) => Some(format!("/ip6/{ip}/tcp/{port}")),
                (None, Some(host)) => {
                    let host = host.to_ascii_lowercase();
                    is_dns_subdomain(&host).then(|| format!("/dns/{host}/tcp/{port}"))
                }
                (None, None) => None,
            }
        });
    Some(address.map_or(
        P2pAnnounce::WaitingForLoadBalancer,
        P2pAnnounce::LoadBalancer,
    ))
}

/// `vc` with p2p's `announce` filled from its LoadBalancer when the spec leaves it to the cloud
/// (borrowed unchanged otherwise), so every builder sees one announce address.
pub fn with_observed_announce<'a>(
    vc: &'a ValidatedCluster,
    load_balancer: Option<&LoadBalancerStatus>,
) -> Cow<'a, ValidatedCluster> {
    let observed = vc
        .service(ServiceKind::P2p)
        .filter(|p2p| p2p.announce.is_none())
        .and_then(|p2p| p2p_announce(p2p, load_balancer))
        .and_then(|announce| announce.address().map(str::to_string));
    let Some(address) = observed else {
        return Cow::Borrowed(vc);
    };
    let mut vc = vc.clone();
    if let Some(p2p) = vc
        .services
        .iter_mut()
        .find(|s| s.kind() == ServiceKind::P2p)
    {
        p2p.announce = Some(address);
    }
    Cow::Owned(vc)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::LoadBalancerIngress;

    use super::*;
    use crate::test_support::{DEVNET, validated};

    fn lb(ip: Option<&str>, hostname: Option<&str>) -> LoadBalancerStatus {
        LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: ip.map(Into::into),
                hostname: hostname.map(Into::into),
                ..Default::default()
            }]),
        }
    }

    fn announce(p2p: &str, load_balancer: Option<&LoadBalancerStatus>) -> Option<P2pAnnounce> {
        let vc = validated(&format!("{DEVNET}  services:\n    p2p: {p2p}\n"));
        p2p_announce(vc.service(ServiceKind::P2p).unwrap(), load_balancer)
    }

    #[test]
    fn a_load_balancer_without_announce_announces_the_clouds_address() {
        let on_lb = "{enabled: true, service: {type: LoadBalancer, port: 30888}}";
        assert_eq!(
            announce(on_lb, Some(&lb(Some("203.0.113.7"), None))),
            Some(P2pAnnounce::LoadBalancer(
                "/ip4/203.0.113.7/tcp/30888".into()
            ))
        );
        assert_eq!(
            announce(on_lb, Some(&lb(Some("2001:db8::7"), None))),
            Some(P2pAnnounce::LoadBalancer(
                "/ip6/2001:db8::7/tcp/30888".into()
            ))
        );
        assert_eq!(
            announce(on_lb, Some(&lb(None, Some("LB-1.Elb.example.com")))),
            Some(P2pAnnounce::LoadBalancer(
                "/dns/lb-1.elb.example.com/tcp/30888".into()
            ))
        );
        for waiting in [
            None,
            Some(LoadBalancerStatus::default()),
            Some(lb(None, None)),
            Some(lb(None, Some("not a host"))),
        ] {
            assert_eq!(
                announce(on_lb, waiting.as_ref()),
                Some(P2pAnnounce::WaitingForLoadBalancer),
                "{waiting:?}"
            );
        }
    }

    #[test]
    fn a_configured_announce_wins_and_other_services_types_announce_nothing() {
        let address = lb(Some("203.0.113.7"), None);
        assert_eq!(
            announce(
                "{enabled: true, service: {type: LoadBalancer}, announce: p2p.example.com}",
                Some(&address)
            ),
            Some(P2pAnnounce::Configured(
                "/dns/p2p.example.com/tcp/8888".into()
            ))
        );
        assert_eq!(announce("{enabled: true}", Some(&address)), None);
        assert_eq!(
            announce("{enabled: true, service: {type: NodePort}}", Some(&address)),
            None
        );
    }

    #[test]
    fn only_an_observed_address_changes_the_cluster() {
        let vc = validated(&format!(
            "{DEVNET}  services:\n    p2p: {{enabled: true, service: {{type: LoadBalancer}}}}\n"
        ));
        assert!(matches!(
            with_observed_announce(&vc, None),
            Cow::Borrowed(_)
        ));
        let filled = with_observed_announce(&vc, Some(&lb(Some("203.0.113.7"), None)));
        assert_eq!(
            filled
                .service(ServiceKind::P2p)
                .unwrap()
                .announce
                .as_deref(),
            Some("/ip4/203.0.113.7/tcp/8888")
        );
    }
}
