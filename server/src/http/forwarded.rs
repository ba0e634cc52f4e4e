//! The client's address behind a proxy. Behind a load balancer every request
//! comes from the proxy, so the login limits (per address) would count every
//! user together and the audit log would name the proxy. When the connection
//! comes from one of `RUNBOARD_TRUSTED_PROXIES`, the client is the nearest
//! address in `X-Forwarded-For` that is not itself a trusted proxy, read from
//! the right (each proxy appends the address it was reached from; what is
//! further left was written by the client and proves nothing). From any other
//! peer the header is ignored. The address replaces the connection's in the
//! request, so everything that reads it ([`app::session::client_ip`]) agrees.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use store::outbound::Cidr;

/// The networks whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client's address for a request that came from a trusted proxy.
    fn client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut hops = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            for hop in value.to_str().ok()?.split(',') {
                hops.push(hop.trim().parse::<IpAddr>().ok()?);
            }
        }
        let nearest_untrusted = hops.iter().rev().find(|ip| !self.trusts(**ip));
        // Every hop a proxy of ours: the first is as near the client as it gets.
        nearest_untrusted.or(hops.first()).copied()
    }
}

/// The middleware: puts the forwarded client's address in place of a trusted
/// proxy's. A header that does not parse is not used.
pub async fn client_address(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    if peer.is_some_and(|peer| trusted.trusts(peer.ip())) {
        if let Some(client) = trusted.client(request.headers()) {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, 0)));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies(nets.iter().map(|net| net.parse().unwrap()).collect())
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_client_is_the_nearest_address_that_is_not_a_proxy_of_ours() {
        let proxies = trusted(&["10.0.0.0/8", "127.0.0.1"]);
        let client = |values: &[&str]| proxies.client(&forwarded(values));
        assert_eq!(
            client(&["203.0.113.7"]),
            Some("203.0.113.7".parse().unwrap())
        );
        // A client's own header left of what our proxies appended is not believed.
        assert_eq!(
            client(&["198.51.100.1, 203.0.113.7, 10.1.2.3"]),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            client(&["198.51.100.1", "203.0.113.7, 10.1.2.3"]),
            Some("203.0.113.7".parse().unwrap()),
            "several header lines are one list"
        );
        assert_eq!(
            client(&["10.0.0.5, 10.0.0.6"]),
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(client(&["203.0.113.7, not-an-address"]), None);
        assert_eq!(client(&[]), None);
    }
}
