//! Which URLs a webhook may target: `http(s)` URLs whose host resolves only to
//! public addresses. Loopback, private, link-local, CGNAT, multicast and other
//! special ranges are refused (so an endpoint cannot aim the server at its own
//! network) unless the server runs with `LEADGRAPH_WEBHOOK_ALLOW_PRIVATE`.
//!
//! The check looks at the resolved addresses, not the host string: `localhost`,
//! `127.1`, `[::ffff:10.0.0.1]` or a name whose DNS answer is private are all
//! refused. [`check_url`] runs when an endpoint is saved and before each
//! delivery; [`PolicyResolver`] applies [`is_allowed`] again to the addresses the
//! HTTP client actually connects to, so DNS that changes its answer between the
//! check and the connection (rebinding) gains nothing.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use batch::FieldCode;
use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

use crate::domain::DomainError;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

fn refuse(code: FieldCode, message: &str) -> DomainError {
    DomainError::field("url", code, message)
}

/// A URL that passed [`check_url`] (only that function builds one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl(Url);

impl CheckedUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

/// Parses and checks a target URL; `validation_failed` on field `url` if refused.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<CheckedUrl, DomainError> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(refuse(FieldCode::TooLong, "at most 2048 characters"));
    }
    let url = Url::parse(raw).map_err(|_| refuse(FieldCode::InvalidFormat, "not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(refuse(
            FieldCode::InvalidFormat,
            "must be an https or http URL",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            FieldCode::InvalidValue,
            "must not contain credentials",
        ));
    }
    if url.fragment().is_some() {
        return Err(refuse(
            FieldCode::InvalidValue,
            "must not contain a fragment",
        ));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let Some(host) = url.host_str() else {
        return Err(refuse(FieldCode::InvalidFormat, "the URL has no host"));
    };
    // IPv6 literals come bracketed; IPv4 literals are already normalised
    // (`127.1` is `127.0.0.1`) by the URL parser.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| refuse(FieldCode::InvalidValue, "the host does not resolve"))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(refuse(FieldCode::InvalidValue, "the host does not resolve"));
    }
    if !allow_private && !addrs.iter().all(|ip| is_allowed(*ip)) {
        return Err(refuse(
            FieldCode::InvalidValue,
            "the host resolves to a private, loopback or otherwise non-public address",
        ));
    }
    Ok(CheckedUrl(url))
}

/// Whether an address is a public unicast address a webhook may reach.
pub fn is_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4),
        IpAddr::V6(v6) => v6_allowed(v6),
    }
}

fn v4_allowed(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", unspecified
        || a == 10 // private
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local (cloud metadata lives here)
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 168) // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !special
}

fn v6_allowed(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_allowed(v4); // ::ffff:a.b.c.d
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if s[..6] == [0; 6] {
        // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d.
        return !ip.is_unspecified() && !ip.is_loopback() && v4_allowed(embedded_v4(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_allowed(embedded_v4(s[6], s[7])); // NAT64
    }
    if s[0] == 0x2002 {
        return v4_allowed(embedded_v4(s[1], s[2])); // 6to4
    }
    let special = (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00; // multicast
    !special
}

/// A DNS resolver for the delivery client that drops nothing silently: a name
/// resolving to any refused address fails the connection (unless private
/// targets are allowed).
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver {
    pub allow_private: bool,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if !allow_private && !addrs.iter().all(|a| is_allowed(a.ip())) {
                return Err(format!(
                    "{} resolves to a non-public address (refused by policy)",
                    name.as_str()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl PolicyResolver {
    pub fn shared(allow_private: bool) -> Arc<Self> {
        Arc::new(Self { allow_private })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(s: &str) -> bool {
        is_allowed(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(allowed(ip), "{ip}");
        }
    }

    #[test]
    fn special_addresses_are_refused() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:192.168.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
        ] {
            assert!(!allowed(ip), "{ip}");
        }
    }

    fn field_code(err: DomainError) -> String {
        match err {
            DomainError::Validation(fields) => {
                assert_eq!(fields[0].field, "url");
                fields[0].code.as_str().to_owned()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn loopback_and_private_urls_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/",
            "http://localhost/",
            "http://10.0.0.1/",
            "http://[::1]/hook",
            "http://[::ffff:7f00:1]/",
            "https://127.1/",
        ] {
            let err = check_url(url, false).await.unwrap_err();
            assert_eq!(field_code(err), "invalid_value", "{url}");
            assert!(check_url(url, true).await.is_ok(), "{url}");
        }
    }

    #[tokio::test]
    async fn malformed_urls_are_refused() {
        for url in [
            "not a url",
            "ftp://1.1.1.1/",
            "https://user:pw@1.1.1.1/",
            "file:///etc/passwd",
        ] {
            assert!(check_url(url, true).await.is_err(), "{url}");
        }
        assert!(check_url("https://1.1.1.1/hook?x=1", false).await.is_ok());
    }
}
