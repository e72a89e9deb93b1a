//! `service` (Service settings), `ingress`, `route` and `announce` of a service: what CEL checks at
//! admission, repeated, plus the syntax CEL leaves to patterns.

use std::net::IpAddr;

use super::{Checker, is_dns_subdomain};
use crate::crd::exposure::{IngressSpec, RouteSpec};
use crate::crd::service::{ServiceExposure, ServiceSpec, ServiceType};
use crate::model::profile::{ServiceKind, ServiceProfile};

/// The class checks (which service may set what) and the syntax of each setting. Returns the
/// announce address as a multiaddr without `/p2p` (p2p only).
pub(super) fn check_exposure(
    check: &mut Checker,
    field: &str,
    profile: &ServiceProfile,
    svc: &ServiceSpec,
) -> Option<String> {
    if let Some(exposure) = &svc.service {
        check_service_exposure(check, &format!("{field}.service"), exposure);
    }
    if let Some(ingress) = &svc.ingress {
        match profile.kind {
            ServiceKind::Jsonrpc | ServiceKind::Grpc => {
                check_ingress(check, &format!("{field}.ingress"), ingress)
            }
            ServiceKind::P2p => check.fail(
                format!("{field}.ingress"),
                "p2p speaks libp2p over TCP, not HTTP: expose it with service.type LoadBalancer or NodePort and announce",
            ),
            _ => check.fail(
                format!("{field}.ingress"),
                "only jsonrpc and grpc serve HTTP behind an Ingress",
            ),
        }
    }
    if let Some(route) = &svc.route {
        match profile.kind {
            ServiceKind::Jsonrpc | ServiceKind::Grpc => {
                check_route(check, &format!("{field}.route"), profile.kind, route)
            }
            ServiceKind::P2p => check.fail(
                format!("{field}.route"),
                "p2p speaks libp2p over TCP, not HTTP: expose it with service.type LoadBalancer or NodePort and announce",
            ),
            _ => check.fail(
                format!("{field}.route"),
                "only jsonrpc and grpc serve HTTP behind a Gateway API route",
            ),
        }
    }
    let announce = svc.announce.as_ref()?;
    if profile.kind != ServiceKind::P2p {
        check.fail(
            format!("{field}.announce"),
            "only p2p announces an address to peers",
        );
        return None;
    }
    let default_port = svc
        .service
        .as_ref()
        .and_then(|s| s.port)
        .or(profile.main_port().map(|p| p.port))
        .unwrap_or(8888);
    match announce_multiaddr(announce, default_port) {
        Some(addr) => Some(addr),
        None => {
            check.fail(
                format!("{field}.announce"),
                "a host, host:port or multiaddr /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port> (without /p2p)",
            );
            None
        }
    }
}

fn check_service_exposure(check: &mut Checker, field: &str, exposure: &ServiceExposure) {
    if !exposure.load_balancer_source_ranges.is_empty() {
        if exposure.type_ != ServiceType::LoadBalancer {
            check.fail(
                format!("{field}.loadBalancerSourceRanges"),
                "only a Service of type LoadBalancer takes source ranges",
            );
        }
        for (i, range) in exposure.load_balancer_source_ranges.iter().enumerate() {
            if !is_cidr(range) {
                check.fail(
                    format!("{field}.loadBalancerSourceRanges[{i}]"),
                    format!("{range:?} is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32"),
                );
            }
        }
    }
    if exposure.external_traffic_policy.is_some() && exposure.type_ == ServiceType::ClusterIP {
        check.fail(
            format!("{field}.externalTrafficPolicy"),
            "only a Service of type LoadBalancer or NodePort takes external traffic",
        );
    }
}

fn check_ingress(check: &mut Checker, field: &str, ingress: &IngressSpec) {
    if let Some(host) = &ingress.host
        && !is_ingress_host(host)
    {
        check.fail(
            format!("{field}.host"),
            "a lowercase DNS name, optionally with a leading `*.`",
        );
    }
    if !ingress.path.starts_with('/') {
        check.fail(format!("{field}.path"), "must start with /");
    }
    if ingress.tls_secret_name.is_some() && ingress.host.is_none() {
        check.fail(
            format!("{field}.tlsSecretName"),
            "TLS needs a host (the name the certificate covers)",
        );
    }
    for key in ingress.annotations.keys() {
        if !super::is_label_key(key) {
            check.fail(
                format!("{field}.annotations.{key}"),
                "not a valid annotation key ([prefix/]name)",
            );
        }
    }
}

fn check_route(check: &mut Checker, field: &str, kind: ServiceKind, route: &RouteSpec) {
    if route.parent_refs.is_empty() {
        check.fail(format!("{field}.parentRefs"), "name at least one Gateway");
    }
    for (i, parent) in route.parent_refs.iter().enumerate() {
        let at = format!("{field}.parentRefs[{i}]");
        if !is_dns_subdomain(&parent.name) {
            check.fail(format!("{at}.name"), "a Gateway's name (a DNS subdomain)");
        }
        if let Some(namespace) = &parent.namespace
            && !super::is_dns_label(namespace)
        {
            check.fail(format!("{at}.namespace"), "a namespace name (a DNS label)");
        }
        if let Some(section) = &parent.section_name
            && !is_dns_subdomain(section)
        {
            check.fail(
                format!("{at}.sectionName"),
                "a listener's name (a DNS subdomain)",
            );
        }
        if let Some(port) = parent.port
            && !(1..=65535).contains(&port)
        {
            check.fail(format!("{at}.port"), "a port from 1 to 65535");
        }
    }
    for (i, host) in route.hostnames.iter().enumerate() {
        if !is_ingress_host(host) {
            check.fail(
                format!("{field}.hostnames[{i}]"),
                "a lowercase DNS name, optionally with a leading `*.`",
            );
        }
    }
    if let Some(path) = &route.path {
        if kind == ServiceKind::Grpc {
            check.fail(
                format!("{field}.path"),
                "a GRPCRoute matches gRPC services and methods, not paths",
            );
        } else if !path.starts_with('/') {
            check.fail(format!("{field}.path"), "must start with /");
        }
    }
    for key in route.annotations.keys() {
        if !super::is_label_key(key) {
            check.fail(
                format!("{field}.annotations.{key}"),
                "not a valid annotation key ([prefix/]name)",
            );
        }
    }
}

/// An IP network in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`).
pub fn is_cidr(text: &str) -> bool {
    let Some((ip, bits)) = text.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    !bits.is_empty()
        && bits.bytes().all(|b| b.is_ascii_digit())
        && bits.len() <= 3
        && bits.parse::<u8>().is_ok_and(|b| b <= max)
}

/// An Ingress host: a DNS subdomain, optionally `*.` first.
pub fn is_ingress_host(host: &str) -> bool {
    is_dns_subdomain(host.strip_prefix("*.").unwrap_or(host))
}

/// `announce` as a multiaddr without `/p2p`: a multiaddr is kept; `host[:port]` becomes
/// `/ip4|ip6/<ip>/tcp/<port>` or `/dns/<name>/tcp/<port>` (port `default_port` when absent).
pub fn announce_multiaddr(announce: &str, default_port: i32) -> Option<String> {
    let valid_port = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
    };
    if let Some(rest) = announce.strip_prefix('/') {
        let parts: Vec<&str> = rest.split('/').collect();
        let [proto, host, "tcp", port] = parts[..] else {
            return None;
        };
        let host_ok = match proto {
            "ip4" => host.parse::<std::net::Ipv4Addr>().is_ok(),
            "ip6" => host.parse::<std::net::Ipv6Addr>().is_ok(),
            "dns" | "dns4" | "dns6" => is_dns_subdomain(&host.to_ascii_lowercase()),
            _ => false,
        };
        return (host_ok && valid_port(port)).then(|| announce.to_string());
    }
    let (host, port) = match announce.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (announce, None),
    };
    let port = match port {
        Some(p) if valid_port(p) => p.to_string(),
        Some(_) => return None,
        None => default_port.to_string(),
    };
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => Some(format!("/ip4/{ip}/tcp/{port}")),
        Ok(IpAddr::V6(_)) => None,
        Err(_) => {
            // host names are case-insensitive: checked and published in lowercase
            let lower = host.to_ascii_lowercase();
            is_dns_subdomain(&lower).then(|| format!("/dns/{lower}/tcp/{port}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{DEVNET, fixture, validated};

    /// The fields the errors of a devnet with `services` name.
    fn route_error_fields(services: &str) -> Vec<String> {
        let yaml = format!("{DEVNET}  services: {services}\n");
        let errors = crate::model::validate(&fixture(&yaml), "default")
            .expect_err("spec is invalid")
            .0;
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn routes_are_checked_naming_the_field() {
        assert_eq!(
            route_error_fields("{jsonrpc: {route: {parentRefs: []}}}"),
            ["spec.services.jsonrpc.route.parentRefs"]
        );
        assert_eq!(
            route_error_fields(
                "{jsonrpc: {route: {parentRefs: [{name: GW, namespace: a.b, sectionName: -x, port: 0}], hostnames: [A.com], path: rpc, annotations: {\"bad key!\": x}}}}"
            ),
            [
                "spec.services.jsonrpc.route.parentRefs[0].name",
                "spec.services.jsonrpc.route.parentRefs[0].namespace",
                "spec.services.jsonrpc.route.parentRefs[0].sectionName",
                "spec.services.jsonrpc.route.parentRefs[0].port",
                "spec.services.jsonrpc.route.hostnames[0]",
                "spec.services.jsonrpc.route.path",
                "spec.services.jsonrpc.route.annotations.bad key!",
            ]
        );
        assert_eq!(
            route_error_fields("{grpc: {route: {parentRefs: [{name: gw}], path: /x}}}"),
            ["spec.services.grpc.route.path"]
        );
        assert_eq!(
            route_error_fields("{blockStore: {route: {parentRefs: [{name: gw}]}}}"),
            ["spec.services.blockStore.route"]
        );
        assert_eq!(
            route_error_fields("{p2p: {enabled: true, route: {parentRefs: [{name: gw}]}}}"),
            ["spec.services.p2p.route"]
        );
    }

    /// A route and an Ingress may expose the same service (e.g. while moving to a Gateway).
    #[test]
    fn a_route_may_sit_beside_an_ingress() {
        let vc = validated(&format!(
            "{DEVNET}  services: {{jsonrpc: {{ingress: {{host: rpc.example.com}}, route: {{parentRefs: [{{name: gw, namespace: infra}}], hostnames: [\"*.example.com\"]}}}}}}\n"
        ));
        let jsonrpc = vc.service(ServiceKind::Jsonrpc).unwrap();
        assert!(jsonrpc.ingress.is_some());
        let route = jsonrpc.route.as_ref().unwrap();
        assert_eq!(route.parent_refs[0].namespace.as_deref(), Some("infra"));
        assert_eq!(route.path, None);
    }

    #[test]
    fn cidrs() {
        for ok in [
            "203.0.113.0/24",
            "0.0.0.0/0",
            "10.0.0.1/32",
            "2001:db8::/32",
            "::/0",
        ] {
            assert!(is_cidr(ok), "{ok}");
        }
        for bad in [
            "203.0.113.0",
            "203.0.113.0/33",
            "2001:db8::/129",
            "x/8",
            "1.2.3.4/",
            "1.2.3.4/+8",
            "/8",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }

    #[test]
    fn ingress_hosts() {
        for ok in ["rpc.example.com", "*.example.com", "localhost", "a-b.c0"] {
            assert!(is_ingress_host(ok), "{ok}");
        }
        for bad in [
            "",
            "*",
            "RPC.example.com",
            "-a.com",
            "a..b",
            "a.*.com",
            "a_b.com",
        ] {
            assert!(!is_ingress_host(bad), "{bad}");
        }
    }

    #[test]
    fn announce_addresses() {
        let m = |a| announce_multiaddr(a, 8888);
        assert_eq!(
            m("p2p.example.com").as_deref(),
            Some("/dns/p2p.example.com/tcp/8888")
        );
        assert_eq!(
            m("P2P.example.com:30888").as_deref(),
            Some("/dns/p2p.example.com/tcp/30888")
        );
        assert_eq!(
            m("203.0.113.7").as_deref(),
            Some("/ip4/203.0.113.7/tcp/8888")
        );
        assert_eq!(
            m("203.0.113.7:9000").as_deref(),
            Some("/ip4/203.0.113.7/tcp/9000")
        );
        for kept in [
            "/dns4/p2p.example.com/tcp/8888",
            "/ip6/2001:db8::1/tcp/1",
            "/ip4/1.2.3.4/tcp/65535",
        ] {
            assert_eq!(m(kept).as_deref(), Some(kept));
        }
        for bad in [
            "",
            "host:0",
            "host:70000",
            "host:",
            "2001:db8::1",
            "/ip4/1.2.3.4/tcp/8888/p2p/QmX",
            "/ip4/1.2.3/tcp/8888",
            "/dns4/a/udp/1",
            "/tcp/8888",
            "a b",
        ] {
            assert_eq!(m(bad), None, "{bad}");
        }
    }
}
