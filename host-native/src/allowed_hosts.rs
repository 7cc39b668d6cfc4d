//! The `Host` allowlist: the DNS-rebinding guard, and the same list for
//! `Origin`.
//!
//! A page on `http://a.rebind.example:7171` whose name is made to resolve to
//! 127.0.0.1 reaches this server as a same-origin page of its own: its
//! requests carry `Host: a.rebind.example:7171`, an `Origin` of that name and
//! `Sec-Fetch-Site: same-origin`. What gives it away is the name, so every
//! request's `Host` (and HTTP/2 `:authority`) must be one this server answers
//! to before it is routed: the loopback names and the bound address with the
//! server's port, the address the connection arrived at, and each
//! `--allowed-host`. A browser cannot forge `Host` or `Origin`.
//!
//! Names are compared in lowercase without a trailing dot; IP literals in
//! their canonical text (IPv6 in brackets).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The loopback names every server answers to (on its own port).
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Why a `Host`, `Origin` or `--allowed-host` value could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Empty, or holds characters no host name has.
    #[error("not a host name or IP address")]
    BadHost,
    /// A port that is not a number from 1 to 65535.
    #[error("not a port number from 1 to 65535")]
    BadPort,
    /// An `Origin` that is not `http(s)://host[:port]` (for example `null`).
    #[error("not an origin (scheme://host[:port])")]
    BadOrigin,
}

/// One entry of the list: a host and, optionally, the one port it is
/// allowed with (no port: any port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    /// `host` on `port` only.
    fn exact(host: &str, port: u16) -> Self {
        AllowedHost {
            host: host.to_owned(),
            port: Some(port),
        }
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port.is_none_or(|p| p == port)
    }
}

impl FromStr for AllowedHost {
    type Err = HostError;

    /// `HOST[:PORT]`, as `--allowed-host` takes it.
    fn from_str(text: &str) -> Result<Self, HostError> {
        let (host, port) = parse_authority(text)?;
        Ok(AllowedHost { host, port })
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// Splits `host[:port]` (a `Host` header or an origin's authority) into the
/// canonical host text and the port, if one is given.
pub fn parse_authority(text: &str) -> Result<(String, Option<u16>), HostError> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(HostError::BadHost)?;
        let ip = Ipv6Addr::from_str(inside).map_err(|_| HostError::BadHost)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(HostError::BadHost)?),
        };
        (format!("[{ip}]"), port)
    } else {
        let (name, port) = match text.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        };
        (canonical_name(name)?, port)
    };
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

/// A DNS name in lowercase without its trailing dot, or an IPv4 literal.
/// A name with an empty label (`a..b`, `.a`, `a..`) is refused: it has no
/// canonical form (found by fuzzing: `a..` read as `a.`, which read again is
/// `a`).
fn canonical_name(name: &str) -> Result<String, HostError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let fits = !name.is_empty()
        && !name.split('.').any(str::is_empty)
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !fits {
        return Err(HostError::BadHost);
    }
    Ok(match Ipv4Addr::from_str(name) {
        Ok(ip) => ip.to_string(),
        Err(_) => name.to_ascii_lowercase(),
    })
}

fn parse_port(text: &str) -> Result<u16, HostError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::BadPort);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(HostError::BadPort),
        Ok(port) => Ok(port),
    }
}

/// Reads an `Origin` header: `http://host[:port]` or `https://host[:port]`,
/// as (host, port) with the scheme's default port filled in.
pub fn parse_origin(text: &str) -> Result<(String, u16), HostError> {
    let (rest, default_port) = if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
        (rest, 80)
    } else if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
        (rest, 443)
    } else {
        return Err(HostError::BadOrigin);
    };
    if rest.contains(['/', '?', '#', '@']) {
        return Err(HostError::BadOrigin);
    }
    let (host, port) = parse_authority(rest)?;
    Ok((host, port.unwrap_or(default_port)))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The canonical host text of an IP address, as [`parse_authority`] writes it.
fn ip_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Why a request was refused before routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Host` header and no `:authority` (400).
    MissingHost,
    /// A `Host` this server does not answer to (421).
    Host,
    /// An `Origin` that is not on the list (403).
    Origin,
}

/// The hosts one server answers to.
#[derive(Clone, Debug)]
pub struct HostAllowlist {
    entries: Vec<AllowedHost>,
}

impl HostAllowlist {
    /// The list of a server bound to `bound`: the loopback names and the bound
    /// address on its port, then `extra` (`--allowed-host`).
    pub fn new(bound: SocketAddr, extra: &[AllowedHost]) -> Self {
        let port = bound.port();
        let mut entries: Vec<AllowedHost> = LOOPBACK_NAMES
            .iter()
            .map(|name| AllowedHost::exact(name, port))
            .collect();
        if !bound.ip().is_unspecified() {
            entries.push(AllowedHost::exact(&ip_host(bound.ip()), port));
        }
        entries.extend(extra.iter().cloned());
        HostAllowlist { entries }
    }

    /// Whether `host` on `port` is allowed on a connection that arrived at
    /// `local` (a server bound to 0.0.0.0 answers to the address it was
    /// reached at).
    pub fn allows(&self, host: &str, port: u16, local: Option<SocketAddr>) -> bool {
        if local.is_some_and(|l| l.port() == port && ip_host(l.ip()) == host) {
            return true;
        }
        self.entries.iter().any(|e| e.matches(host, port))
    }

    /// Checks one `Host` value (or HTTP/2 `:authority`); a missing port is 80.
    pub fn allows_host(&self, value: &str, local: Option<SocketAddr>) -> bool {
        match parse_authority(value) {
            Ok((host, port)) => self.allows(&host, port.unwrap_or(80), local),
            Err(_) => false,
        }
    }

    /// Checks one `Origin` value.
    pub fn allows_origin(&self, value: &str, local: Option<SocketAddr>) -> bool {
        match parse_origin(value) {
            Ok((host, port)) => self.allows(&host, port, local),
            Err(_) => false,
        }
    }

    /// The check every request passes before it is routed: its `Host`
    /// header and its URI's authority (HTTP/2 `:authority`, or an HTTP/1
    /// absolute-form target) must be allowed, at least one of them must be
    /// present, and an `Origin`, when sent, must be allowed too.
    pub fn check(
        &self,
        host_header: Option<&[u8]>,
        uri_authority: Option<&str>,
        origin: Option<&[u8]>,
        local: Option<SocketAddr>,
    ) -> Result<(), Refusal> {
        if host_header.is_none() && uri_authority.is_none() {
            return Err(Refusal::MissingHost);
        }
        if let Some(raw) = host_header {
            let ok = std::str::from_utf8(raw).is_ok_and(|h| self.allows_host(h, local));
            if !ok {
                return Err(Refusal::Host);
            }
        }
        if let Some(authority) = uri_authority {
            if !self.allows_host(authority, local) {
                return Err(Refusal::Host);
            }
        }
        if let Some(raw) = origin {
            let ok = std::str::from_utf8(raw).is_ok_and(|o| self.allows_origin(o, local));
            if !ok {
                return Err(Refusal::Origin);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(extra: &[&str]) -> HostAllowlist {
        let extra: Vec<AllowedHost> = extra.iter().map(|e| e.parse().expect("an entry")).collect();
        HostAllowlist::new("127.0.0.1:7171".parse().expect("an address"), &extra)
    }

    #[test]
    fn loopback_names_on_the_bound_port_are_allowed() {
        let l = list(&[]);
        for ok in [
            "127.0.0.1:7171",
            "localhost:7171",
            "LOCALHOST.:7171",
            "[::1]:7171",
            "[0:0::1]:7171",
        ] {
            assert!(l.allows_host(ok, None), "{ok}");
        }
        for refused in [
            "a.rebind.example:7171",
            "localhost:7172",
            "localhost",
            "127.0.0.2:7171",
            "127.1:7171",
            "",
            ":7171",
            "localhost:",
            "localhost:0",
            "localhost:99999",
            "local host:7171",
            "[::1]x:7171",
            "localhost:7171/x",
            "localhost..:7171",
            ".localhost:7171",
            "local..host:7171",
        ] {
            assert!(!l.allows_host(refused, None), "{refused:?}");
        }
    }

    #[test]
    fn allowed_hosts_with_and_without_ports() {
        let l = list(&["dash.example", "proxy.example:8443", "[2001:db8::1]:80"]);
        assert!(l.allows_host("dash.example", None));
        assert!(l.allows_host("Dash.Example:9", None));
        assert!(l.allows_host("proxy.example:8443", None));
        assert!(!l.allows_host("proxy.example", None));
        assert!(l.allows_host("[2001:db8:0::1]", None));
        assert!("a b".parse::<AllowedHost>().is_err());
        assert!("x:0".parse::<AllowedHost>().is_err());
        assert_eq!(
            "Proxy.Example.:8443"
                .parse::<AllowedHost>()
                .expect("an entry")
                .to_string(),
            "proxy.example:8443"
        );
    }

    #[test]
    fn the_connection_address_is_allowed_on_a_wildcard_bind() {
        let l = HostAllowlist::new("0.0.0.0:7171".parse().expect("an address"), &[]);
        let local: SocketAddr = "192.168.1.5:7171".parse().expect("an address");
        assert!(l.allows_host("192.168.1.5:7171", Some(local)));
        assert!(!l.allows_host("192.168.1.6:7171", Some(local)));
        assert!(!l.allows_host("0.0.0.0:7171", Some(local)));
    }

    #[test]
    fn origins_are_checked_against_the_same_list_with_default_ports() {
        let l = list(&["dash.example"]);
        assert!(l.allows_origin("http://127.0.0.1:7171", None));
        assert!(l.allows_origin("HTTP://localhost:7171", None));
        assert!(l.allows_origin("https://dash.example", None));
        for refused in [
            "null",
            "http://localhost",
            "http://localhost:8080",
            "http://a.rebind.example:7171",
            "http://127.0.0.1:7171/",
            "http://user@127.0.0.1:7171",
            "ftp://127.0.0.1:7171",
            "http://",
        ] {
            assert!(!l.allows_origin(refused, None), "{refused}");
        }
    }

    #[test]
    fn the_request_check_needs_a_host_and_an_allowed_origin() {
        let l = list(&[]);
        let host = Some(&b"127.0.0.1:7171"[..]);
        assert_eq!(l.check(host, None, None, None), Ok(()));
        assert_eq!(l.check(None, None, None, None), Err(Refusal::MissingHost));
        assert_eq!(
            l.check(None, Some("localhost:7171"), None, None),
            Ok(()),
            "HTTP/2 :authority"
        );
        assert_eq!(
            l.check(host, Some("evil.example"), None, None),
            Err(Refusal::Host)
        );
        assert_eq!(
            l.check(Some(b"a.rebind.example:7171"), None, None, None),
            Err(Refusal::Host)
        );
        assert_eq!(
            l.check(host, None, Some(b"http://a.rebind.example:7171"), None),
            Err(Refusal::Origin)
        );
        assert_eq!(l.check(Some(b"\xff"), None, None, None), Err(Refusal::Host));
    }
}
