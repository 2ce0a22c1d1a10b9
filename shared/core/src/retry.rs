//! Trying again: capped exponential backoff with equal jitter, `Retry-After` honoured up to the
//! cap. Deliveries (webhooks, mail, callbacks) and the client's polling use this one rule.

use std::time::Duration;

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
        let exp = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.cap);
        let half = exp / 2;
        let jitter = half.mul_f64(rand::random::<f64>());
        let backoff = half + jitter;
        match retry_after {
            Some(asked) => backoff.max(asked.min(self.cap)),
            None => backoff,
        }
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
}
