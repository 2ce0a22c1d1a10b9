//! Where Holdpoint may send a webhook or a callback: `https` to a public address, never into the
//! network it runs in (no loopback, private, link-local — the cloud metadata service at
//! 169.254.169.254 — shared, multicast or reserved address, in IPv4 or IPv6, nor an IPv6 address
//! carrying one). Checked when the URL is given, and again at every delivery on the addresses its
//! name resolves to then, so a name that later points inwards is refused too; the connection goes
//! to the address checked.
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
    let s = ip.segments();
    if ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        // NAT64 local-use (RFC 8215): not globally reachable, and where its IPv4 address sits
        // depends on the prefix length a network chose, so it is refused whole.
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
    {
        return false;
    }
    match embedded_v4(s) {
        Some(reached) => reached.iter().all(|v4| is_public_v4(*v4)),
        // Anything else must be global unicast (2000::/3): the rest is reserved, discard-only
        // (100::/64) or local.
        None => (s[0] & 0xe000) == 0x2000,
    }
}

/// The IPv4 addresses an IPv6 address carries and is translated or tunnelled to, in every form
/// that carries one: such an address is as public as what it embeds, so `::ffff:127.0.0.1` or
/// `2002:7f00:1::` never reach loopback.
fn embedded_v4(s: [u16; 8]) -> Option<Vec<Ipv4Addr>> {
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let last = v4(s[6], s[7]);
    let mut reached = match s {
        // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d (deprecated).
        [0, 0, 0, 0, 0, 0xffff | 0, _, _] => return Some(vec![last]),
        // SIIT IPv4-translated ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0xffff, 0, _, _] => return Some(vec![last]),
        // NAT64 well-known prefix 64:ff9b::/96.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => return Some(vec![last]),
        // 6to4 2002:AABB:CCDD::/48.
        [0x2002, hi, lo, ..] => vec![v4(hi, lo)],
        // Teredo 2001:0::/32: the server's address, then the client's, its bits inverted.
        [0x2001, 0, server_hi, server_lo, _, _, _, _] => {
            vec![v4(server_hi, server_lo), Ipv4Addr::from(!u32::from(last))]
        }
        _ => Vec::new(),
    };
    // ISATAP: an interface id of 0:5efe (or 200:5efe) and the IPv4 address it tunnels to, in
    // any prefix, 6to4's and Teredo's too.
    if matches!(s, [_, _, _, _, 0 | 0x0200, 0x5efe, _, _]) {
        reached.push(last);
    }
    (!reached.is_empty()).then_some(reached)
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

    /// Every IPv6 form that carries an IPv4 address, carrying `v4`.
    fn embedding(v4: Ipv4Addr) -> Vec<(&'static str, Ipv6Addr)> {
        let n = u32::from(v4);
        let (hi, lo) = ((n >> 16) as u16, n as u16);
        let teredo_server = u32::from(Ipv4Addr::new(65, 54, 227, 120));
        let (shi, slo) = ((teredo_server >> 16) as u16, teredo_server as u16);
        vec![
            ("mapped", v4.to_ipv6_mapped()),
            ("compatible", Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo)),
            ("SIIT", Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo)),
            ("NAT64", Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo)),
            ("6to4", Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1)),
            ("Teredo", Ipv6Addr::new(0x2001, 0, shi, slo, 0, 0, !hi, !lo)),
            (
                "ISATAP",
                Ipv6Addr::new(0x2600, 0x1f18, 1, 2, 0, 0x5efe, hi, lo),
            ),
            (
                "ISATAP-u",
                Ipv6Addr::new(0x2600, 0x1f18, 1, 2, 0x200, 0x5efe, hi, lo),
            ),
        ]
    }

    #[tokio::test]
    async fn ipv6_forms_embedding_ipv4_are_as_public_as_what_they_embed() {
        let inward = [
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(10, 1, 2, 3),
            Ipv4Addr::new(192, 168, 0, 1),
            Ipv4Addr::new(169, 254, 169, 254),
        ];
        for v4 in inward {
            for (form, ip) in embedding(v4) {
                let url = format!("https://[{ip}]/hook");
                assert!(
                    check_url(&url, false).is_err(),
                    "{form} {url} ({v4}) was allowed"
                );
                // The delivery-time check refuses the same address however it was given.
                let parsed = Url::parse(&url).unwrap();
                let refused = resolve(&parsed, false).await.unwrap_err();
                assert!(
                    matches!(refused, Unreachable::Refused(_)),
                    "{form} {url}: {refused}"
                );
            }
        }
        let public = Ipv4Addr::new(93, 184, 216, 34);
        for (form, ip) in embedding(public) {
            let url = format!("https://[{ip}]/hook");
            assert!(check_url(&url, false).is_ok(), "{form} {url} was refused");
            assert!(
                resolve(&Url::parse(&url).unwrap(), false).await.is_ok(),
                "{url}"
            );
        }
        // Written the way an attacker would, dotted quads and all.
        for url in [
            "https://[::ffff:0:127.0.0.1]/",
            "https://[::127.0.0.1]/",
            "https://[2002:7f00:1::]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://[64:ff9b::127.0.0.1]/",
            "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", // Teredo client 127.0.0.1
            // ISATAP inside the 6to4 and Teredo prefixes, carrying 127.0.0.1.
            "https://[2002:808:808::5efe:7f00:1]/",
            "https://[2001:0:808:808::5efe:7f00:1]/",
            // Not global unicast: discard-only, reserved, benchmarking-free space outside 2000::/3.
            "https://[100::1]/",
            "https://[4000::1]/",
            "https://[::2:1:1]/",
        ] {
            assert!(check_url(url, false).is_err(), "{url} was allowed");
        }
        // NAT64 local-use: never a public destination, whatever it embeds.
        for v4 in inward.into_iter().chain([public]) {
            let [a, b, c, d] = v4.octets();
            let ip = Ipv6Addr::new(
                0x64,
                0xff9b,
                1,
                0,
                0,
                0,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
            );
            assert!(
                check_url(&format!("https://[{ip}]/"), false).is_err(),
                "{ip}"
            );
        }
    }
}
