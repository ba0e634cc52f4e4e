//! Where Runboard may send requests of its own (webhooks, push dispatch): public
//! addresses only. Without this rule a run's `webhookUrl` or an agent's dispatch
//! URL would make the server call what only it can reach (its own loopback
//! services, the private network, a cloud's metadata endpoint and the credentials
//! behind it) and report back how that went.
//!
//! The rule is [`check_ip`]: an address and the operator's allow list
//! (`RUNBOARD_OUTBOUND_ALLOW`) in, a verdict out. [`Outbound`] applies it twice:
//! when a URL is stored ([`Outbound::check_url`]: the literal address, or every
//! address its host name resolves to then) and when the outbox connects
//! ([`Outbound::resolve`], the HTTP client's resolver, which drops refused
//! addresses), since a name can resolve elsewhere by then (DNS rebinding).
//! Cloud metadata addresses and names are refused even when allowed.

use model::AppError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;
use url::{Host, Url};

/// Why an address is not called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Unspecified,
    Loopback,
    /// RFC 1918 networks (and IPv6 site-local, NAT64 local use).
    Private,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedAddressSpace,
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// A cloud's instance metadata service: refused even when allowed.
    Metadata,
    Multicast,
    Documentation,
    /// Anything else that is not a public unicast address.
    Reserved,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Unspecified => "an unspecified address",
            Refusal::Loopback => "a loopback address",
            Refusal::Private => "a private-network address",
            Refusal::SharedAddressSpace => "a carrier-grade NAT address",
            Refusal::LinkLocal => "a link-local address",
            Refusal::UniqueLocal => "a unique-local address",
            Refusal::Metadata => "a cloud metadata address",
            Refusal::Multicast => "a multicast address",
            Refusal::Documentation => "a documentation address",
            Refusal::Reserved => "a reserved address",
        }
    }
}

/// Instance metadata services: AWS (IMDS, ECS task and EKS pod credentials),
/// GCP and Azure (169.254.169.254), Alibaba Cloud, Oracle Cloud (legacy).
const METADATA_V4: [Ipv4Addr; 5] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];

/// AWS IMDS and EKS pod credentials over IPv6.
const METADATA_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
];

/// Names of metadata services (they resolve to the addresses above where they
/// resolve at all; refused by name too, before any lookup).
const METADATA_NAMES: [&str; 5] = [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// IPv4 networks that are not public, most specific first where they nest.
const V4_NOT_PUBLIC: [([u8; 4], u8, Refusal); 15] = [
    ([0, 0, 0, 0], 8, Refusal::Unspecified),
    ([10, 0, 0, 0], 8, Refusal::Private),
    ([100, 64, 0, 0], 10, Refusal::SharedAddressSpace),
    ([127, 0, 0, 0], 8, Refusal::Loopback),
    ([169, 254, 0, 0], 16, Refusal::LinkLocal),
    ([172, 16, 0, 0], 12, Refusal::Private),
    ([192, 0, 0, 0], 24, Refusal::Reserved),
    ([192, 0, 2, 0], 24, Refusal::Documentation),
    ([192, 88, 99, 0], 24, Refusal::Reserved),
    ([192, 168, 0, 0], 16, Refusal::Private),
    ([198, 18, 0, 0], 15, Refusal::Reserved),
    ([198, 51, 100, 0], 24, Refusal::Documentation),
    ([203, 0, 113, 0], 24, Refusal::Documentation),
    ([224, 0, 0, 0], 4, Refusal::Multicast),
    ([240, 0, 0, 0], 4, Refusal::Reserved),
];

/// IPv6 networks inside or outside 2000::/3 with a reason of their own; the
/// rest outside 2000::/3 is [`Refusal::Reserved`].
const V6_NOT_PUBLIC: [([u16; 8], u8, Refusal); 7] = [
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Refusal::LinkLocal),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Refusal::Private),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Refusal::UniqueLocal),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Refusal::Multicast),
    (
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        Refusal::Documentation,
    ),
    ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, Refusal::Reserved),
    (
        [0x0064, 0xff9b, 0x0001, 0, 0, 0, 0, 0],
        48,
        Refusal::Private,
    ),
];

/// A network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network of one address.
    fn host(addr: IpAddr) -> Cidr {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Cidr { addr, prefix }
    }

    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is that IPv4 address: the
/// socket reaches the same host.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The IPv4 address a translating gateway would reach for an IPv6 address:
/// NAT64 (`64:ff9b::/96`, the address in the last 32 bits) and 6to4
/// (`2002::/16`, in bits 16–47).
fn translated_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    match ip.segments() {
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(Ipv4Addr::new(o[12], o[13], o[14], o[15])),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

fn is_metadata(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => METADATA_V4.contains(&v4),
        IpAddr::V6(v6) => {
            METADATA_V6.contains(&v6)
                || translated_v4(v6).is_some_and(|v4| METADATA_V4.contains(&v4))
        }
    }
}

/// Why `ip` is not a public address, or `None` when it is one.
pub fn classify(ip: IpAddr) -> Option<Refusal> {
    if is_metadata(ip) {
        return Some(Refusal::Metadata);
    }
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    V4_NOT_PUBLIC
        .iter()
        .find(|(net, prefix, _)| {
            Cidr {
                addr: Ipv4Addr::from(*net).into(),
                prefix: *prefix,
            }
            .contains(ip.into())
        })
        .map(|(_, _, refusal)| *refusal)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    if ip.is_unspecified() {
        return Some(Refusal::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Refusal::Loopback);
    }
    if let Some(v4) = translated_v4(ip) {
        return classify_v4(v4);
    }
    if let Some((_, _, refusal)) = V6_NOT_PUBLIC.iter().find(|(net, prefix, _)| {
        Cidr {
            addr: Ipv6Addr::from(*net).into(),
            prefix: *prefix,
        }
        .contains(ip.into())
    }) {
        return Some(*refusal);
    }
    // Global unicast is 2000::/3; everything else (IPv4-compatible `::a.b.c.d`
    // included) is reserved or special.
    let global = Cidr {
        addr: Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0).into(),
        prefix: 3,
    };
    (!global.contains(ip.into())).then_some(Refusal::Reserved)
}

/// Host names as compared here: lower case, without the root's trailing dot.
fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn is_metadata_name(name: &str) -> bool {
    METADATA_NAMES.contains(&name)
}

/// `localhost` and `*.localhost` are loopback by definition (RFC 6761), whatever
/// a resolver says.
fn is_localhost_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// One entry of `RUNBOARD_OUTBOUND_ALLOW`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allow {
    /// Addresses in a network; a single address is a /32 or /128.
    Net(Cidr),
    /// One address and port, when a URL names that address itself (demo mode's
    /// own job receiver).
    Socket(SocketAddr),
    /// A host name, whatever it resolves to.
    Host(String),
}

impl Allow {
    /// Whether this entry lets `ip` (canonical) through, reached on `port` when
    /// the URL named the address literally.
    fn covers(&self, ip: IpAddr, port: Option<u16>) -> bool {
        match self {
            Allow::Net(net) => net.contains(ip),
            Allow::Socket(socket) => port == Some(socket.port()) && canonical(socket.ip()) == ip,
            Allow::Host(_) => false,
        }
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allow::Net(net) => net.fmt(f),
            Allow::Socket(socket) => socket.fmt(f),
            Allow::Host(name) => f.write_str(name),
        }
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().ok()
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, or one address (`192.168.1.20`, `[fd00::20]`).
    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        if let Some((addr, prefix)) = text.split_once('/') {
            let addr = parse_ip(addr).ok_or_else(|| format!("{text}: not an IP network"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= max)
                .ok_or_else(|| format!("{text}: the prefix length must be 0–{max}"))?;
            Ok(Cidr { addr, prefix })
        } else {
            let addr = parse_ip(text)
                .ok_or_else(|| format!("{text}: not an IP address or network (CIDR)"))?;
            Ok(Cidr::host(addr))
        }
    }
}

impl FromStr for Allow {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, `192.168.1.20`, `[fd00::20]`, `127.0.0.1:9000`,
    /// `[::1]:9000` or a host name such as `runner.lan`.
    fn from_str(text: &str) -> Result<Allow, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty entry".into());
        }
        let never = |what: &str| {
            Err(format!(
                "{what} is a cloud metadata address, which is never allowed"
            ))
        };
        let allow = if text.contains('/') {
            Allow::Net(text.parse()?)
        } else if let Some(addr) = parse_ip(text) {
            if is_metadata(addr) {
                return never(text);
            }
            Allow::Net(Cidr::host(addr))
        } else if let Ok(socket) = text.parse::<SocketAddr>() {
            if is_metadata(socket.ip()) {
                return never(text);
            }
            Allow::Socket(socket)
        } else {
            let name = normalize_name(text);
            let valid = !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                });
            if !valid {
                return Err(format!(
                    "{text}: not a host name, an IP address or a network (CIDR)"
                ));
            }
            if is_metadata_name(&name) {
                return never(text);
            }
            Allow::Host(name)
        };
        Ok(allow)
    }
}

/// The rule: may Runboard connect to `ip`? `port` is the URL's port when the URL
/// names the address literally (only then can a `Socket` entry apply). A
/// metadata address never; an address the allow list covers, yes; otherwise only
/// a public address.
pub fn check_ip(ip: IpAddr, port: Option<u16>, allow: &[Allow]) -> Result<(), Refusal> {
    if is_metadata(ip) {
        return Err(Refusal::Metadata);
    }
    let ip = canonical(ip);
    if allow.iter().any(|entry| entry.covers(ip, port)) {
        return Ok(());
    }
    classify(ip).map_or(Ok(()), Err)
}

/// A connection the rule refused: the address (or name) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub target: String,
    pub reason: Refusal,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {}; refused by the outbound policy",
            self.target,
            self.reason.describe()
        )
    }
}

impl std::error::Error for Refused {}

/// Why a host name gave no address to connect to.
#[derive(Debug)]
pub enum ResolveError {
    /// Every address it resolved to is refused (or the name itself is).
    Refused(Refused),
    /// The lookup failed.
    Lookup(std::io::Error),
}

/// How long storing a URL waits for its host name to resolve. A name that does
/// not resolve in time is accepted: the connection is checked again anyway.
const LOOKUP_WAIT: Duration = Duration::from_secs(3);

async fn lookup(name: &str) -> std::io::Result<Vec<IpAddr>> {
    if is_localhost_name(name) {
        return Ok(vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]);
    }
    Ok(tokio::net::lookup_host((name, 0))
        .await?
        .map(|socket| socket.ip())
        .collect())
}

/// The outbound policy of one server: the rule with the allow list it was
/// started with, plus what demo mode adds for its own receiver.
#[derive(Debug, Default)]
pub struct Outbound {
    allow: RwLock<Vec<Allow>>,
}

impl Outbound {
    pub fn new(allow: Vec<Allow>) -> Outbound {
        Outbound {
            allow: RwLock::new(allow),
        }
    }

    /// Adds entries to the allow list.
    pub fn allow(&self, entries: impl IntoIterator<Item = Allow>) {
        self.allow
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(entries);
    }

    /// The allow list now.
    pub fn allowed(&self) -> Vec<Allow> {
        self.allow
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// [`check_ip`] with this server's allow list.
    pub fn check_ip(&self, ip: IpAddr, port: Option<u16>) -> Result<(), Refusal> {
        check_ip(
            ip,
            port,
            &self.allow.read().unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Whether an address that host `name` (normalized) resolves to may be
    /// called: an allowed host name may resolve anywhere but to metadata.
    fn check_resolved(&self, name: &str, ip: IpAddr) -> Result<(), Refusal> {
        let allow = self.allow.read().unwrap_or_else(PoisonError::into_inner);
        if allow
            .iter()
            .any(|entry| matches!(entry, Allow::Host(host) if host == name))
        {
            return if is_metadata(ip) {
                Err(Refusal::Metadata)
            } else {
                Ok(())
            };
        }
        check_ip(ip, None, &allow)
    }

    /// Checks a URL about to be stored for Runboard to call (`field` names it in
    /// the error): an http(s) URL whose host is an address the rule lets through,
    /// or a name that resolves to at least one (a connection uses only those). A
    /// name that does not resolve now is accepted: the connection is checked anyway.
    pub async fn check_url(&self, field: &str, url: &str) -> Result<(), AppError> {
        let not_http =
            || AppError::invalid(field, format!("{field} must be an http:// or https:// URL"));
        let parsed = Url::parse(url).map_err(|_| not_http())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(not_http());
        }
        let refused = |target: String, reason: Refusal| {
            Err(AppError::invalid(
                field,
                refusal_message(field, &target, reason),
            ))
        };
        let port = parsed.port_or_known_default();
        match parsed.host() {
            None => Err(not_http()),
            Some(Host::Ipv4(ip)) => self
                .check_ip(ip.into(), port)
                .or_else(|reason| refused(ip.to_string(), reason)),
            Some(Host::Ipv6(ip)) => self
                .check_ip(ip.into(), port)
                .or_else(|reason| refused(ip.to_string(), reason)),
            // What a connection would do now: refused when no address is left.
            Some(Host::Domain(name)) => {
                match tokio::time::timeout(LOOKUP_WAIT, self.resolve(name)).await {
                    Ok(Err(ResolveError::Refused(Refused { target, reason }))) => {
                        refused(target, reason)
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Resolves a host name for a connection: the addresses the rule lets
    /// through, or why there are none.
    pub async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let name = normalize_name(name);
        if is_metadata_name(&name) {
            return Err(ResolveError::Refused(Refused {
                target: name,
                reason: Refusal::Metadata,
            }));
        }
        let found = lookup(&name).await.map_err(ResolveError::Lookup)?;
        let mut refused = None;
        let kept: Vec<IpAddr> = found
            .into_iter()
            .filter(|ip| match self.check_resolved(&name, *ip) {
                Ok(()) => true,
                Err(reason) => {
                    refused.get_or_insert(Refused {
                        target: format!("{name} ({ip})"),
                        reason,
                    });
                    false
                }
            })
            .collect();
        match refused {
            Some(refused) if kept.is_empty() => Err(ResolveError::Refused(refused)),
            _ if kept.is_empty() => Err(ResolveError::Lookup(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{name} has no address"),
            ))),
            _ => Ok(kept),
        }
    }
}

fn refusal_message(field: &str, target: &str, reason: Refusal) -> String {
    match reason {
        Refusal::Metadata => format!(
            "{field} points to {target}, a cloud metadata address, which Runboard never calls"
        ),
        other => format!(
            "{field} points to {target}, {}; Runboard calls only public addresses unless RUNBOARD_OUTBOUND_ALLOW allows it",
            other.describe()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn allow(entries: &str) -> Vec<Allow> {
        entries
            .split(',')
            .map(|entry| entry.parse().unwrap())
            .collect()
    }

    #[test]
    fn every_non_public_form_is_refused_with_its_reason() {
        use Refusal::*;
        let table = [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("::ffff:192.168.1.1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("169.254.1.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("169.254.169.254", Metadata),
            ("::ffff:169.254.169.254", Metadata),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("169.254.170.2", Metadata),
            ("100.100.100.200", Metadata),
            ("fd00:ec2::254", Metadata),
            ("224.0.0.1", Multicast),
            ("ff02::1", Multicast),
            ("192.0.2.1", Documentation),
            ("2001:db8::1", Documentation),
            ("255.255.255.255", Reserved),
            ("240.0.0.1", Reserved),
            ("198.18.0.1", Reserved),
            ("::7f00:1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a00:1", Private),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
        ];
        for (address, reason) in table {
            assert_eq!(
                check_ip(ip(address), Some(80), &[]),
                Err(reason),
                "{address}"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "169.253.255.255",
            "::ffff:8.8.8.8",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(check_ip(ip(address), Some(443), &[]), Ok(()), "{address}");
        }
    }

    #[test]
    fn the_allow_list_opens_addresses_networks_and_sockets_but_never_metadata() {
        let allowed = allow("127.0.0.1, 10.0.0.0/8,fd00::/8,192.168.1.20:9000,169.254.0.0/16");
        assert_eq!(check_ip(ip("127.0.0.1"), Some(80), &allowed), Ok(()));
        assert_eq!(check_ip(ip("::ffff:127.0.0.1"), None, &allowed), Ok(()));
        assert_eq!(
            check_ip(ip("127.0.0.2"), Some(80), &allowed),
            Err(Refusal::Loopback)
        );
        assert_eq!(check_ip(ip("10.20.30.40"), None, &allowed), Ok(()));
        assert_eq!(check_ip(ip("fd12::1"), None, &allowed), Ok(()));
        assert_eq!(check_ip(ip("192.168.1.20"), Some(9000), &allowed), Ok(()));
        assert_eq!(
            check_ip(ip("192.168.1.20"), Some(9001), &allowed),
            Err(Refusal::Private),
            "a socket entry is that port only"
        );
        assert_eq!(
            check_ip(ip("192.168.1.20"), None, &allowed),
            Err(Refusal::Private),
            "a socket entry applies only to a URL naming the address"
        );
        assert_eq!(check_ip(ip("169.254.1.1"), None, &allowed), Ok(()));
        for metadata in ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"] {
            assert_eq!(
                check_ip(ip(metadata), Some(80), &allow("0.0.0.0/0,::/0")),
                Err(Refusal::Metadata),
                "{metadata}"
            );
        }
    }

    #[test]
    fn allow_entries_are_parsed_and_metadata_is_not_accepted() {
        assert_eq!(
            "runner.LAN.".parse::<Allow>(),
            Ok(Allow::Host("runner.lan".into()))
        );
        assert_eq!(
            "[::1]:9000".parse::<Allow>(),
            Ok(Allow::Socket("[::1]:9000".parse().unwrap()))
        );
        assert_eq!(
            "[fd00::20]".parse::<Allow>().map(|entry| entry.to_string()),
            Ok("fd00::20/128".into())
        );
        for bad in [
            "",
            "10.0.0.0/33",
            "fd00::/129",
            "x/8",
            "bad host!",
            "a..b",
            "169.254.169.254",
            "169.254.169.254:80",
            "metadata.google.internal",
        ] {
            assert!(bad.parse::<Allow>().is_err(), "{bad:?}");
        }
    }

    async fn refused_field(outbound: &Outbound, url: &str) -> Option<String> {
        match outbound.check_url("webhookUrl", url).await {
            Ok(()) => None,
            Err(AppError::Invalid { field, message }) => {
                assert!(message.starts_with("webhookUrl "), "{message}");
                Some(field)
            }
            Err(other) => panic!("{url}: {other:?}"),
        }
    }

    #[tokio::test]
    async fn stored_urls_are_refused_in_every_spelling_of_a_private_address() {
        let strict = Outbound::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://127.1/",
            "http://0/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]:3000/",
            "http://[::]/",
            "http://10.0.0.8/",
            "http://172.20.1.1/",
            "http://192.168.0.10/",
            "http://100.64.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[fc00::5]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./",
            "http://localhost:3000/",
            "http://rebind.localhost/",
            "ftp://example.com/",
            "http://",
        ] {
            assert_eq!(
                refused_field(&strict, url).await.as_deref(),
                Some("webhookUrl"),
                "{url}"
            );
        }
        for url in [
            "https://93.184.216.34/hook",
            "http://[2606:4700::1111]:8080/",
        ] {
            assert_eq!(refused_field(&strict, url).await, None, "{url}");
        }
    }

    #[tokio::test]
    async fn the_allow_list_opens_stored_urls_but_not_metadata() {
        let outbound = Outbound::new(allow("127.0.0.1"));
        assert_eq!(refused_field(&outbound, "http://127.0.0.1:9/x").await, None);
        assert_eq!(refused_field(&outbound, "http://2130706433/").await, None);
        assert_eq!(
            refused_field(&outbound, "http://localhost:9/").await,
            None,
            "127.0.0.1 is allowed (::1, refused, is not connected to)"
        );
        assert!(refused_field(&outbound, "http://[::1]/").await.is_some());
        let everything = Outbound::new(allow("0.0.0.0/0,::/0"));
        assert!(refused_field(&everything, "http://169.254.169.254/")
            .await
            .is_some());
        assert!(
            refused_field(&everything, "http://metadata.google.internal/")
                .await
                .is_some()
        );
        // Demo mode's receiver: exactly that address and port.
        let demo = Outbound::default();
        demo.allow([Allow::Socket("127.0.0.1:4567".parse().unwrap())]);
        assert_eq!(
            refused_field(&demo, "http://127.0.0.1:4567/jobs").await,
            None
        );
        assert!(refused_field(&demo, "http://127.0.0.1:4568/jobs")
            .await
            .is_some());
        assert!(refused_field(&demo, "http://localhost:4567/jobs")
            .await
            .is_some());
    }

    #[tokio::test]
    async fn resolving_drops_refused_addresses() {
        let strict = Outbound::default();
        match strict.resolve("rebind.localhost").await {
            Err(ResolveError::Refused(refused)) => {
                assert_eq!(refused.reason, Refusal::Loopback, "{refused}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            strict.resolve("metadata.google.internal").await,
            Err(ResolveError::Refused(Refused {
                reason: Refusal::Metadata,
                ..
            }))
        ));
        let allowed = Outbound::new(allow("127.0.0.1"));
        assert_eq!(
            allowed.resolve("localhost").await.unwrap(),
            vec![IpAddr::from(Ipv4Addr::LOCALHOST)]
        );
        let by_name = Outbound::new(allow("app.localhost"));
        assert_eq!(by_name.resolve("APP.localhost.").await.unwrap().len(), 2);
    }
}
