//! The `Host` / `:authority` / `Origin` guard (DNS rebinding): never panics;
//! a request passes exactly when every `Host` value it carries names, on
//! its port, one of the loopback names, the bound address, the address the
//! connection arrived at or an `--allowed-host`, and its `Origin` (if any)
//! does too — compared after canonicalisation (lowercase, no trailing dot,
//! IP literals in their canonical text). Canonical forms are fixed points,
//! case never matters, and an accepted value holds nothing that could smuggle
//! a path, user or second host (`/`, `@`, `?`, `#`, whitespace, controls).
//!
//! Input: byte 0 says what the request carries (bit 0 `Host`, bit 1
//! `:authority`, bit 2 `Origin`, bit 5 a known connection address) and bits
//! 3–4 the bound address (`127.0.0.1:7171`, `[::1]:7171`, `0.0.0.0:8080`,
//! `192.168.1.5:443`); the rest is split at byte 0x01 into the `Host` bytes,
//! the `:authority` text (lossy UTF-8), the `Origin` bytes and a
//! comma-separated list of `--allowed-host` entries.

use std::net::SocketAddr;

use tidings::fuzzing::{check_request_host, parse_authority, parse_origin, AllowedHost};

const BOUND: [&str; 4] = [
    "127.0.0.1:7171",
    "[::1]:7171",
    "0.0.0.0:8080",
    "192.168.1.5:443",
];

/// Characters an accepted `Host` may hold.
fn host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '[' | ']')
}

/// Checks the canonical-form rules of one `host[:port]` text.
fn authority_rules(text: &str) {
    let parsed = parse_authority(text);
    assert_eq!(
        parse_authority(&text.to_ascii_uppercase()),
        parsed,
        "{text:?}: case changed the answer"
    );
    let Ok((host, port)) = parsed else {
        return;
    };
    assert!(text.chars().all(host_char), "{text:?} was accepted");
    assert!(!host.is_empty() && !host.ends_with('.'));
    assert_eq!(host, host.to_ascii_lowercase());
    assert!(port != Some(0));
    let printed = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    assert_eq!(
        parse_authority(&printed),
        Ok((host.clone(), port)),
        "{printed:?} is not a fixed point"
    );
    let entry: AllowedHost = text
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} as --allowed-host: {e}"));
    assert_eq!(entry.to_string(), printed);
    assert_eq!(printed.parse::<AllowedHost>(), Ok(entry));
}

/// The canonical host text of a socket address's IP.
fn ip_text(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    }
}

/// Whether `host` on `port` is on the list, read literally.
fn allowed(
    host: &str,
    port: u16,
    bound: SocketAddr,
    local: Option<SocketAddr>,
    extra: &[(String, Option<u16>)],
) -> bool {
    let loopback = ["localhost", "127.0.0.1", "[::1]"].contains(&host) && port == bound.port();
    let bound_ip = !bound.ip().is_unspecified() && host == ip_text(bound) && port == bound.port();
    let arrived = local.is_some_and(|l| host == ip_text(l) && port == l.port());
    let listed = extra
        .iter()
        .any(|(h, p)| h == host && p.is_none_or(|p| p == port));
    loopback || bound_ip || arrived || listed
}

/// The check: see the module docs.
pub fn check(input: &[u8]) {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == 1);
    let host = parts.next().unwrap_or_default();
    let authority = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let origin = parts.next().unwrap_or_default();
    let extras = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();

    let bound: SocketAddr = BOUND[usize::from(flags >> 3) % 4]
        .parse()
        .unwrap_or_else(|e| panic!("a socket address: {e}"));
    let local: Option<SocketAddr> = (flags & 32 != 0).then(|| {
        if bound.ip().is_unspecified() {
            SocketAddr::from(([10, 0, 0, 7], bound.port()))
        } else {
            bound
        }
    });
    let mut entries = Vec::new();
    let mut extra = Vec::new();
    for text in extras.split(',').filter(|t| !t.is_empty()) {
        authority_rules(text);
        if let Ok(entry) = text.parse::<AllowedHost>() {
            entries.push(entry);
            extra.push(parse_authority(text).unwrap_or_default());
        }
    }

    let host = (flags & 1 != 0).then_some(host);
    let authority = (flags & 2 != 0).then_some(authority.as_str());
    let origin = (flags & 4 != 0).then_some(origin);
    for value in [host, origin].into_iter().flatten() {
        if let Ok(text) = std::str::from_utf8(value) {
            authority_rules(text);
        }
    }
    if let Some(text) = authority {
        authority_rules(text);
    }
    if let Some(Ok(text)) = origin.map(std::str::from_utf8) {
        assert_eq!(
            parse_origin(&text.to_ascii_uppercase()),
            parse_origin(text),
            "{text:?}: case changed the answer"
        );
        if let Ok((h, port)) = parse_origin(text) {
            let lower = text.to_ascii_lowercase();
            let rest = lower
                .strip_prefix("http://")
                .or_else(|| lower.strip_prefix("https://"))
                .unwrap_or_else(|| panic!("{text:?}: an origin without http(s)://"));
            let default = if lower.starts_with("https") { 443 } else { 80 };
            let (rest_host, rest_port) = parse_authority(rest)
                .unwrap_or_else(|e| panic!("{text:?}: accepted, but its authority is not: {e}"));
            assert_eq!((rest_host, rest_port.unwrap_or(default)), (h, port));
        }
    }

    let host_ok = |value: &str| {
        parse_authority(value)
            .is_ok_and(|(h, p)| allowed(&h, p.unwrap_or(80), bound, local, &extra))
    };
    let expected = if host.is_none() && authority.is_none() {
        Err("MissingHost")
    } else if host.is_some_and(|h| !std::str::from_utf8(h).is_ok_and(host_ok))
        || authority.is_some_and(|a| !host_ok(a))
    {
        Err("Host")
    } else if origin.is_some_and(|o| {
        !std::str::from_utf8(o)
            .is_ok_and(|o| parse_origin(o).is_ok_and(|(h, p)| allowed(&h, p, bound, local, &extra)))
    }) {
        Err("Origin")
    } else {
        Ok(())
    };
    let got = check_request_host(bound, &entries, host, authority, origin, local);
    assert_eq!(
        got.as_ref().copied().map_err(String::as_str),
        expected,
        "Host {host:?}, :authority {authority:?}, Origin {origin:?}, bound {bound}, \
         local {local:?}, extra {extras:?}"
    );
}
