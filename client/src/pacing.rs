//! How the client spaces its requests: a floor it never polls faster than and a cap its backoff
//! grows to, turned into the core's one backoff rule (`holdpoint_core::retry`).

use std::time::Duration;

use holdpoint_core::retry::Backoff;

/// How [`Client::wait`](crate::Client::wait) (and a retried create) spaces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    /// The shortest pause between two requests ([`WaitPolicy::MIN_FLOOR`] at least).
    pub floor: Duration,
    /// The longest pause the backoff grows to (a server's `Retry-After` may ask for longer).
    pub cap: Duration,
}

impl WaitPolicy {
    /// No policy polls faster than this.
    pub const MIN_FLOOR: Duration = Duration::from_millis(100);

    /// The pauses of one run of requests: doubling from the floor (raised to
    /// [`WaitPolicy::MIN_FLOOR`]) up to the cap, jittered, a `Retry-After` waited out in full.
    pub(crate) fn backoff(&self) -> Backoff {
        Backoff::new(self.floor.max(WaitPolicy::MIN_FLOOR), self.cap)
    }
}

impl Default for WaitPolicy {
    fn default() -> Self {
        WaitPolicy {
            floor: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_below_the_minimum_is_raised() {
        let mut b = WaitPolicy {
            floor: Duration::ZERO,
            cap: Duration::ZERO,
        }
        .backoff();
        assert!(b.next(None) >= WaitPolicy::MIN_FLOOR);
    }

    #[test]
    fn the_policy_is_the_cores_backoff_from_its_floor() {
        let mut b = WaitPolicy {
            floor: Duration::from_millis(200),
            cap: Duration::from_millis(1_000),
        }
        .backoff();
        assert_eq!(b.floor(), Duration::from_millis(200));
        for _ in 0..8 {
            let p = b.next(None);
            assert!(
                (Duration::from_millis(200)..=Duration::from_millis(1_000)).contains(&p),
                "{p:?}"
            );
        }
        assert!(b.next(Some(Duration::from_secs(5))) >= Duration::from_secs(5));
    }
}
