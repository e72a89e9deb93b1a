//! Gateway options (`jsonrpc` section of `config.yml`, official key names) and the listen
//! address, which may be a socket address or a libp2p-style multiaddr as in the official config.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::method::DEFAULT_BLACKLIST;

/// Largest AMQP message RabbitMQ accepts (`max_message_size`); larger requests are refused.
pub const MAX_MESSAGE_SIZE: usize = 536_870_912;

/// The official gateway waits at most one second for a microservice, whatever `mq-timeout` is
/// (which only caps it).
pub const RPC_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Resolved gateway options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOptions {
    /// Where HTTP is served (`listen`, default `/ip4/127.0.0.1/tcp/8080`).
    pub listen: SocketAddr,
    /// The HTTP path served (`endpoint`, default `/`, which serves every path as Go's mux does).
    pub endpoint: String,
    /// How long a request may wait for a free job before the reply is HTTP 504
    /// (`gateway-timeout`, seconds, default 3).
    pub gateway_timeout: Duration,
    /// Upper bound on the microservice call time (`mq-timeout`, seconds, default 5); the
    /// effective timeout is `min(mq-timeout, 1 s)`.
    pub mq_timeout: Duration,
    /// Requests handled at once (`jobs`, at least 256 in the service); more wait for a free job
    /// up to `gateway_timeout`.
    pub jobs: usize,
    /// Method prefixes allowed (`whitelist`); empty allows every method.
    pub whitelist: Vec<String>,
    /// Method prefixes refused (`blacklist`).
    pub blacklist: Vec<String>,
    /// Largest request body and serialized request accepted (`max-request-size`, bytes).
    pub max_request_size: usize,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            endpoint: "/".into(),
            gateway_timeout: Duration::from_secs(3),
            mq_timeout: Duration::from_secs(5),
            jobs: 16,
            whitelist: Vec::new(),
            blacklist: DEFAULT_BLACKLIST.iter().map(|s| s.to_string()).collect(),
            max_request_size: MAX_MESSAGE_SIZE,
        }
    }
}

impl GatewayOptions {
    /// The timeout applied to each microservice call.
    pub fn call_timeout(&self) -> Duration {
        self.mq_timeout.min(RPC_CALL_TIMEOUT)
    }
}

/// Parses `host:port`, `/ip4/<a>/tcp/<port>`, `/ip6/<a>/tcp/<port>` or `/tcp/<port>` (all
/// interfaces, as the official docker configuration writes it).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if !text.starts_with('/') {
        return text
            .parse::<SocketAddr>()
            .map_err(|e| format!("invalid listen address {text:?}: {e}"));
    }
    let parts: Vec<&str> = text.trim_end_matches('/').split('/').skip(1).collect();
    let bad = || format!("invalid listen multiaddr {text:?}: expected /ip4/<addr>/tcp/<port>");
    let (ip, port) = match parts.as_slice() {
        ["ip4", addr, "tcp", port] => (
            IpAddr::V4(addr.parse::<Ipv4Addr>().map_err(|_| bad())?),
            port,
        ),
        ["ip6", addr, "tcp", port] => (IpAddr::V6(addr.parse().map_err(|_| bad())?), port),
        ["tcp", port] => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        _ => return Err(bad()),
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_socket_addresses_and_multiaddrs() {
        for (text, expected) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("/ip4/127.0.0.1/tcp/8080", "127.0.0.1:8080"),
            ("/ip4/0.0.0.0/tcp/9000", "0.0.0.0:9000"),
            ("/tcp/8080", "0.0.0.0:8080"),
            ("/ip6/::1/tcp/8080", "[::1]:8080"),
        ] {
            assert_eq!(
                parse_listen(text).unwrap(),
                expected.parse().unwrap(),
                "{text}"
            );
        }
        for text in [
            "",
            "/ip4/x/tcp/1",
            "/ip4/1.2.3.4/udp/1",
            "/tcp/99999",
            "localhost",
        ] {
            assert!(parse_listen(text).is_err(), "{text}");
        }
    }

    #[test]
    fn call_timeout_is_at_most_one_second() {
        let mut options = GatewayOptions::default();
        assert_eq!(options.call_timeout(), Duration::from_secs(1));
        options.mq_timeout = Duration::from_millis(300);
        assert_eq!(options.call_timeout(), Duration::from_millis(300));
    }

    #[test]
    fn default_blacklist_is_the_public_one() {
        assert_eq!(
            GatewayOptions::default().blacklist,
            ["block_store.add_block", "chain.propose_block"]
        );
    }
}
