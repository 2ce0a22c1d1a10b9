//! What a service keeps for sign-in: its session store, a session's length, and the
//! per-address limit of sign-in requests (in-process: it bounds one instance's share).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::SessionStore;

/// Sign-in requests from one peer address let through per minute.
pub const PEER_LIMIT: u32 = 10;
/// Addresses remembered at most by the per-address limit (older windows are dropped first).
const PEERS_KEPT: usize = 100_000;

/// The session store and the per-address limit: the sign-in side of a service.
pub struct Sessions {
    pub store: Arc<dyn SessionStore>,
    hours: u32,
    peers: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Sessions {
    pub fn new(store: Arc<dyn SessionStore>, hours: u32) -> Sessions {
        Sessions {
            store,
            hours: hours.max(1),
            peers: Mutex::new(HashMap::new()),
        }
    }

    pub fn hours(&self) -> u32 {
        self.hours
    }

    /// Counts one request from `peer`; `Err` with the seconds until its minute ends.
    pub fn count_peer(&self, peer: IpAddr) -> Result<(), u64> {
        // An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`: judged as its
        // IPv4 address, not as the one /64 every IPv4 client would share.
        let key = match peer.to_canonical() {
            // One host holds a whole /64: count it as one address.
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            v4 => v4,
        };
        let now = Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if peers.len() >= PEERS_KEPT {
            peers.retain(|_, (start, _)| now.duration_since(*start) < minute);
            if peers.len() >= PEERS_KEPT {
                // More live addresses than are kept: start afresh rather than grow without bound.
                peers.clear();
            }
        }
        let slot = peers.entry(key).or_insert((now, 0));
        if now.duration_since(slot.0) >= minute {
            *slot = (now, 0);
        }
        if slot.1 >= PEER_LIMIT {
            let left = minute.saturating_sub(now.duration_since(slot.0));
            return Err(left.as_secs().max(1));
        }
        slot.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "embedded")]
    #[test]
    fn an_address_is_limited_to_its_share_per_minute_and_a_v6_host_by_its_64() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::sessions::embedded::EmbeddedSessions::open(dir.path()).unwrap();
        let s = Sessions::new(Arc::new(store), 12);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        for i in 0..PEER_LIMIT {
            let peer = if i % 2 == 0 { a } else { b };
            assert!(s.count_peer(peer).is_ok());
        }
        let after = s.count_peer(a).unwrap_err();
        assert!((1..=60).contains(&after), "{after}");
        assert!(s.count_peer("192.0.2.1".parse().unwrap()).is_ok());
    }

    /// An attacker found every IPv4 client of a dual-stack listener sharing one limit (their
    /// mapped addresses fell in one /64): ten requests from one blocked sign-in for all.
    #[cfg(feature = "embedded")]
    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_each_have_their_own_share() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::sessions::embedded::EmbeddedSessions::open(dir.path()).unwrap();
        let s = Sessions::new(Arc::new(store), 12);
        let one: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        for _ in 0..PEER_LIMIT {
            assert!(s.count_peer(one).is_ok());
        }
        assert!(s.count_peer(one).is_err());
        assert!(
            s.count_peer("127.0.0.1".parse().unwrap()).is_err(),
            "the same host"
        );
        for other in ["::ffff:192.0.2.2", "::ffff:127.0.0.9", "192.0.2.3"] {
            assert!(s.count_peer(other.parse().unwrap()).is_ok(), "{other}");
        }
    }
}
