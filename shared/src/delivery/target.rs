//! Where Holdpoint may send a webhook or a callback: `https` to a public address, never into the
//! network it runs in (no loopback, private, link-local — the cloud metadata service at
//! 169.254.169.254 — shared, multicast or reserved address, in IPv4 or IPv6). Checked when the
//! URL is given, and again at every delivery on the addresses its name resolves to then, so a
//! name that later points inwards is refused too; the connection goes to the address checked.
//!
//! `HOLDPOINT_ALLOW_PRIVATE_WEBHOOKS=1` lifts the check (and allows `http`) for local
//! development and tests. It is unsafe anywhere an agent is not fully trusted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2_048;

/// Why a URL given for a webhook or callback is refused (the message names the rule it breaks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RefusedTarget(pub String);

/// `url` parsed, if Holdpoint may send to it (its host name is checked at delivery).
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, RefusedTarget> {
    let refuse = |why: String| Err(RefusedTarget(why));
    if url.len() > MAX_URL_LEN {
        return refuse(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let parsed = match Url::parse(url) {
        Ok(p) => p,
        Err(e) => return refuse(format!("not a URL: {e}")),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return refuse("must be an https URL".into()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return refuse("must not carry a user name or password".into());
    }
    match parsed.host() {
        None => return refuse("must name a host".into()),
        Some(Host::Ipv4(ip)) if !allow_private && !is_public(IpAddr::V4(ip)) => {
            return refuse(format!("{ip} is not a public address"));
        }
        Some(Host::Ipv6(ip)) if !allow_private && !is_public(IpAddr::V6(ip)) => {
            return refuse(format!("{ip} is not a public address"));
        }
        Some(Host::Domain(d)) if !allow_private && is_local_name(d) => {
            return refuse(format!("{d} is not a public host"));
        }
        _ => {}
    }
    Ok(parsed)
}

fn is_local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || h.ends_with(".internal") || !h.contains('.')
}

/// Why a target cannot be reached now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreachable {
    /// It points where Holdpoint never sends: final.
    #[error("{0}")]
    Refused(String),
    /// Its name does not resolve now: worth trying again.
    #[error("{0}")]
    Lookup(String),
}

/// The addresses `url`'s host resolves to now, every one of them public (unless allowed): what
/// a delivery connects to. Any address that is not public refuses the whole name, so a
/// resolver cannot be played to mix one in.
pub async fn resolve(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, Unreachable> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Unreachable::Refused("no port".to_owned()))?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(d)) => tokio::net::lookup_host((d, port))
            .await
            .map_err(|e| Unreachable::Lookup(format!("{d} does not resolve: {e}")))?
            .collect(),
        None => return Err(Unreachable::Refused("no host".into())),
    };
    if addrs.is_empty() {
        return Err(Unreachable::Lookup(
            "the host resolves to no address".into(),
        ));
    }
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(Unreachable::Refused(format!(
            "the host resolves to {}, not a public address",
            bad.ip()
        )));
    }
    Ok(addrs)
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0 && s[1..6] == [0, 0, 0, 0, 0])) // IPv4-compatible and other ::/80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inward_targets_are_refused() {
        for url in [
            "http://example.com/hook",
            "ftp://example.com/",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://localhost/",
            "https://metadata.google.internal/",
            "https://intranet/",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert!(check_url(url, false).is_err(), "{url} was allowed");
        }
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(MAX_URL_LEN)), false).is_err());
    }

    #[test]
    fn public_https_is_allowed_and_private_only_when_allowed() {
        for url in [
            "https://hooks.example.com/holdpoint",
            "https://93.184.216.34:8443/x",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/",
        ] {
            assert!(check_url(url, false).is_ok(), "{url} was refused");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_inwards_is_refused_at_delivery() {
        let url = Url::parse("https://localhost:9/x").unwrap();
        let refused = resolve(&url, false).await.unwrap_err();
        assert!(matches!(refused, Unreachable::Refused(_)), "{refused}");
        assert!(!resolve(&url, true).await.unwrap().is_empty());
    }
}
