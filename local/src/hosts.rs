//! The host names the local cloud answers to.
//!
//! API Gateway only routes requests for the hosts it serves (its execute-api names and the
//! custom domains mapped to the API); anything else never reaches a function. The local gateway
//! does the same, so that a `Host` header chosen by a client (or by a web page through DNS
//! rebinding) can neither reach the app nor end up in the links the app builds from
//! `requestContext.domainName`.
//!
//! Accepted: `localhost` and `*.localhost`, every IPv4 loopback address, `[::1]`, the address the connection
//! arrived on (what `--host` binds), and the names given with `--allow-host`. The port is not
//! compared (a port forward may change it; the name is what DNS rebinding changes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The names a server accepts in `Host` (and in an absolute-form request target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// Extra names (lowercase, no trailing dot), from `--allow-host`.
    extra: Vec<String>,
}

/// Why a host name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRefusal {
    /// Not one of the accepted names.
    Unknown(String),
    /// More than one `Host` header, or a `Host` that is not a host name.
    Malformed(String),
}

impl AllowedHosts {
    /// Loopback names and the listening address, plus `extra` names.
    ///
    /// # Errors
    /// A name that is empty or has characters no host name has (`/`, spaces, `@`, ...).
    pub fn new<I, S>(extra: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut names = Vec::new();
        for name in extra {
            let name = name.as_ref().trim();
            let normal = normalize(name);
            if normal.is_empty()
                || !normal
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))
            {
                return Err(format!(
                    "`--allow-host {name}` is not a host name (give a name like `myapp.test`, without scheme, port or path)"
                ));
            }
            names.push(normal);
        }
        Ok(Self { extra: names })
    }

    /// Whether `authority` (a `Host` value: name or address, optional port) is accepted on a
    /// connection that arrived on `local`.
    pub fn allows(&self, authority: &str, local: IpAddr) -> bool {
        let Some(name) = host_name(authority) else {
            return false;
        };
        let name = normalize(name);
        // `*.localhost` resolves to loopback in browsers themselves (no DNS answer changes it).
        if name == "localhost" || name.ends_with(".localhost") || self.extra.contains(&name) {
            return true;
        }
        match parse_ip(&name) {
            Some(ip) => ip.is_loopback() || ip == local.to_canonical(),
            None => false,
        }
    }

    /// Whether the request's `Host` header (exactly one) is accepted on a connection that arrived
    /// on `local`.
    pub fn allows_request(&self, headers: &http::HeaderMap, local: IpAddr) -> bool {
        let mut hosts = headers.get_all(http::header::HOST).iter();
        match (hosts.next(), hosts.next()) {
            (Some(host), None) => host.to_str().is_ok_and(|h| self.allows(h, local)),
            _ => false,
        }
    }

    /// Checks every `Host` header and the request target's authority, if it has one.
    ///
    /// # Errors
    /// [`HostRefusal`] naming the refused value.
    pub fn check<'h>(
        &self,
        hosts: impl IntoIterator<Item = &'h [u8]>,
        target_authority: Option<&str>,
        local: IpAddr,
    ) -> Result<(), HostRefusal> {
        let hosts: Vec<&[u8]> = hosts.into_iter().collect();
        if hosts.len() > 1 {
            return Err(HostRefusal::Malformed(format!(
                "{} Host headers (a request has one)",
                hosts.len()
            )));
        }
        let mut given = Vec::with_capacity(2);
        if let Some(host) = hosts.first() {
            match std::str::from_utf8(host) {
                Ok(host) => given.push(host),
                Err(_) => {
                    return Err(HostRefusal::Malformed(
                        "the Host header is not text".to_owned(),
                    ));
                }
            }
        }
        given.extend(target_authority);
        for host in given {
            if !self.allows(host, local) {
                return Err(HostRefusal::Unknown(host.to_owned()));
            }
        }
        Ok(())
    }
}

/// Lowercase, without a trailing dot (`LocalHost.` is `localhost`).
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The name or address of a `Host` value, without the port: `[::1]:8000` → `[::1]`,
/// `localhost:8000` → `localhost`. `None` for what is not `host[:port]` (userinfo, a path, ...).
fn host_name(authority: &str) -> Option<&str> {
    if authority.is_empty() || authority.contains(['@', '/', '?', '#', ' ', '\\']) {
        return None;
    }
    let (name, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        (&authority[..=end], &authority[end + 1..])
    } else {
        match authority.rsplit_once(':') {
            Some((name, _)) => (name, &authority[name.len()..]),
            None => (authority, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (port_ok && !name.is_empty()).then_some(name)
}

/// `127.0.0.1` or `[::1]` as an address (IPv4-mapped IPv6 addresses as IPv4).
fn parse_ip(name: &str) -> Option<IpAddr> {
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    name.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn loopback_names_are_accepted_with_or_without_a_port() {
        let hosts = AllowedHosts::default();
        for host in [
            "localhost",
            "LOCALHOST:8000",
            "localhost.",
            "127.0.0.1",
            "127.0.0.1:8000",
            "127.1.2.3:1",
            "[::1]",
            "[::1]:8000",
            "[::ffff:127.0.0.1]:8000",
        ] {
            assert!(hosts.allows(host, LOOPBACK), "{host}");
        }
    }

    #[test]
    fn other_names_are_refused() {
        let hosts = AllowedHosts::default();
        for host in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.1:8000",
            "",
            "localhost:80x",
            "localhost:",
            "user@localhost",
            "localhost/x",
            "[::1",
            "[::2]:8000",
        ] {
            assert!(!hosts.allows(host, LOOPBACK), "{host}");
        }
    }

    #[test]
    fn the_listening_address_and_extra_names_are_accepted() {
        let hosts = AllowedHosts::new(["MyApp.test", "api.local."]).unwrap();
        let lan = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20));
        assert!(hosts.allows("192.168.1.20:8000", lan));
        assert!(!hosts.allows("192.168.1.21:8000", lan));
        assert!(hosts.allows("myapp.test:8000", LOOPBACK));
        assert!(hosts.allows("api.local", LOOPBACK));
        assert!(!hosts.allows("other.test", LOOPBACK));
        assert!(AllowedHosts::new(["http://x.test"]).is_err());
        assert!(AllowedHosts::new([""]).is_err());
        assert!(AllowedHosts::new(["a b"]).is_err());
    }

    #[test]
    fn every_host_header_and_the_target_authority_are_checked() {
        let hosts = AllowedHosts::default();
        let ok: &[u8] = b"localhost:8000";
        let evil: &[u8] = b"evil.example";
        assert_eq!(hosts.check([ok], None, LOOPBACK), Ok(()));
        assert_eq!(hosts.check([], None, LOOPBACK), Ok(()));
        assert_eq!(
            hosts.check([evil], None, LOOPBACK),
            Err(HostRefusal::Unknown("evil.example".to_owned()))
        );
        assert!(matches!(
            hosts.check([ok, evil], None, LOOPBACK),
            Err(HostRefusal::Malformed(_))
        ));
        assert_eq!(
            hosts.check([ok], Some("evil.example:8000"), LOOPBACK),
            Err(HostRefusal::Unknown("evil.example:8000".to_owned()))
        );
        let not_text: &[u8] = b"\xff";
        assert!(matches!(
            hosts.check([not_text], None, LOOPBACK),
            Err(HostRefusal::Malformed(_))
        ));
    }
}
