//! Trying again, one rule for deliveries (webhooks, mail, callbacks) and the client (a retried
//! create, polling a pending approval):
//!
//! - which answers are worth asking again ([`is_retryable_status`]): 408, 429 and every 5xx.
//!   Deliveries and the client used to disagree on the 5xx beyond 500/502/503/504; the wider list
//!   won because a client talks through proxies and gateways whose 5xx (a CDN's 520–524, a
//!   507) are passing, attempts are bounded, and a retried create carries its
//!   `Idempotency-Key`, so asking once more after a lasting 5xx costs one request while giving up
//!   on a passing one loses the work;
//! - what the server asked for ([`retry_after`]): `Retry-After` as delta-seconds or an HTTP date;
//! - how long to pause ([`RetryPolicy::delay`], [`Backoff`]): capped exponential backoff with
//!   equal jitter. A delivery caps a receiver's `Retry-After` (a receiver cannot hold a message
//!   back for ever); the client polling Holdpoint waits it out in full and never polls faster
//!   than its floor (it is the server asking for time).

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Whether an answer with HTTP `status` is worth asking again after a pause: a timeout (408),
/// too many requests (429) or any server error (5xx). Any other status is final.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// A `Retry-After` header's value as the pause it asks for, from `now`: delta-seconds, or an HTTP
/// date (IMF-fixdate, and the obsolete RFC 850 and asctime forms every recipient must accept).
/// `None` when it is neither, or names a time already past.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    (http_date(value)? - now).to_std().ok()
}

/// An HTTP date (RFC 9110 §5.6.7) in any of its three forms, always GMT.
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    // "Sunday, 06-Nov-94 08:49:37 GMT" (RFC 850), "Sun Nov  6 08:49:37 1994" (asctime).
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|form| NaiveDateTime::parse_from_str(value, form).ok())
        .map(|at| at.and_utc())
}

/// How often and how patiently a delivery is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The pause after the first failure; doubled after each further one.
    pub base: Duration,
    /// No pause is longer (a `Retry-After` included).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts over about 4 minutes (1, 2, 4, … 64 s, half of each pause random).
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 8,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The pause after `failures` failed attempts: `base · 2^(failures-1)` capped, half of it
    /// random (equal jitter), but never shorter than a `Retry-After` (itself capped).
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = equal_jitter(self.base, self.cap, failures);
        match retry_after {
            Some(asked) => backoff.max(asked.min(self.cap)),
            None => backoff,
        }
    }
}

/// `base · 2^(failures-1)`, at most `cap`, its upper half drawn at random.
fn equal_jitter(base: Duration, cap: Duration, failures: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(cap);
    let half = exp / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// The pauses of one run of requests to a server that may ask for time (the client's polling
/// and retried create): the same backoff as [`RetryPolicy::delay`] starting from a floor, never
/// below that floor, and never shorter than a `Retry-After`, which is waited out in full.
#[derive(Debug, Clone)]
pub struct Backoff {
    floor: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Pauses doubling from `floor` up to `cap` (raised to the floor when below it).
    pub fn new(floor: Duration, cap: Duration) -> Backoff {
        Backoff {
            floor,
            cap: cap.max(floor),
            failures: 0,
        }
    }

    pub fn floor(&self) -> Duration {
        self.floor
    }

    /// The next pause, at least what `retry_after` asked for.
    pub fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        self.failures = self.failures.saturating_add(1);
        equal_jitter(self.floor, self.cap, self.failures)
            .max(self.floor)
            .max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_jittered_and_honours_retry_after() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
        };
        for _ in 0..100 {
            let first = p.delay(1, None);
            assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&first));
            let third = p.delay(3, None);
            assert!((Duration::from_secs(2)..=Duration::from_secs(4)).contains(&third));
            let late = p.delay(30, None);
            assert!((Duration::from_secs(5)..=Duration::from_secs(10)).contains(&late));
            assert_eq!(
                p.delay(1, Some(Duration::from_secs(7))),
                Duration::from_secs(7)
            );
            assert_eq!(
                p.delay(1, Some(Duration::from_secs(3_600))),
                Duration::from_secs(10),
                "Retry-After is capped too"
            );
        }
    }

    /// Was the client's own `Backoff` (client/src/wait.rs).
    #[test]
    fn backoff_doubles_to_its_cap_never_below_its_floor() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_millis(1_000));
        let pauses: Vec<_> = (0..8).map(|_| b.next(None)).collect();
        for p in &pauses {
            assert!(
                *p >= Duration::from_millis(200) && *p <= Duration::from_millis(1_000),
                "{p:?}"
            );
        }
        // From the fourth pause on the base is the cap: each pause is in its upper half.
        for p in &pauses[3..] {
            assert!(*p >= Duration::from_millis(500), "{p:?}");
        }
        assert!(b.next(Some(Duration::from_secs(5))) >= Duration::from_secs(5));
    }

    #[test]
    fn a_cap_below_the_floor_is_raised_to_it() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::ZERO);
        for _ in 0..5 {
            assert_eq!(b.next(None), Duration::from_millis(100));
        }
    }

    /// Was the client's `transient` and the delivery sender's own list.
    #[test]
    fn timeouts_throttling_and_server_errors_are_retried_nothing_else() {
        for retried in [408, 429, 500, 501, 502, 503, 504, 520, 599] {
            assert!(is_retryable_status(retried), "{retried}");
        }
        for final_ in [200, 301, 400, 401, 403, 404, 409, 410, 422, 499, 600] {
            assert!(!is_retryable_status(final_), "{final_}");
        }
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Was the delivery sender's (shared/src/delivery/send.rs).
    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = at("2026-11-29T10:00:00Z");
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Sun, 29 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("Sun, 29 Nov 2026 09:00:00 GMT", now), None);
    }

    #[test]
    fn retry_after_reads_the_obsolete_date_forms_too() {
        let now = at("1994-11-06T08:49:00Z");
        let asked = Some(Duration::from_secs(37));
        assert_eq!(retry_after(" 37 ", now), asked);
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), asked);
        assert_eq!(retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), asked);
        assert_eq!(retry_after("Sun Nov  6 08:49:37 1994", now), asked);
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("", now), None);
    }
}
