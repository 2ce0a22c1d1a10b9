//! Reminders: once, when a share of a pending approval's window has passed, its reviewers are
//! asked again with the time left. The share is a tenant setting (the policy's `remind_at`),
//! else the service's (`HOLDPOINT_REMIND_AT`, 0.8); `never` or 0 turns reminders off.

use chrono::{DateTime, TimeDelta, Utc};

/// Windows shorter than this get no reminder: it would come on the heels of the request.
pub const MIN_WINDOW_SECONDS: i64 = 120;
/// A reminder due closer than this to the deadline is not made: too late to act on.
pub const MIN_LEFT_SECONDS: i64 = 60;

/// When reviewers are reminded: once this many thousandths of the window have passed; 0 never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemindAt {
    permille: u16,
}

impl Default for RemindAt {
    fn default() -> RemindAt {
        RemindAt { permille: 800 }
    }
}

impl RemindAt {
    pub const NEVER: RemindAt = RemindAt { permille: 0 };

    /// A share of the window: 0 (never) up to, not including, 1 (the deadline itself).
    pub fn from_share(share: f64) -> Result<RemindAt, String> {
        if !share.is_finite() || !(0.0..1.0).contains(&share) {
            return Err(format!(
                "must be `never` or a share of the window from 0 up to 1 (0.8: when 80 % has \
                 passed), not {share}"
            ));
        }
        let permille = (share * 1000.0).round() as u16;
        // A share above 0 never rounds into `never`, nor onto the deadline.
        let permille = if share > 0.0 {
            permille.clamp(1, 999)
        } else {
            0
        };
        Ok(RemindAt { permille })
    }

    /// `never`, or a share as [`RemindAt::from_share`] reads it.
    pub fn parse(text: &str) -> Result<RemindAt, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("never") {
            return Ok(RemindAt::NEVER);
        }
        match text.parse::<f64>() {
            Ok(share) => RemindAt::from_share(share),
            Err(_) => Err(format!(
                "must be `never` or a share of the window such as 0.8, not {text:?}"
            )),
        }
    }

    /// The share of the window, `None` when reminders are off.
    pub fn share(self) -> Option<f64> {
        (self.permille > 0).then(|| f64::from(self.permille) / 1000.0)
    }

    /// When an approval open from `created` to `expires` is reminded, if at all.
    pub fn reminds_at(
        self,
        created: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if self.permille == 0 {
            return None;
        }
        let window = (expires - created).num_milliseconds();
        let at = created + TimeDelta::milliseconds(window * i64::from(self.permille) / 1000);
        worth_it(created, at, expires)
    }
}

/// After an extension of a window not yet reminded: the same share of the new window.
pub fn rescaled(
    created: DateTime<Utc>,
    reminds_at: DateTime<Utc>,
    old_expires: DateTime<Utc>,
    new_expires: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let old = i128::from((old_expires - created).num_milliseconds());
    let new = i128::from((new_expires - created).num_milliseconds());
    let into = i128::from((reminds_at - created).num_milliseconds());
    if old <= 0 {
        return None;
    }
    let at = i64::try_from(into * new / old).ok()?;
    worth_it(created, created + TimeDelta::milliseconds(at), new_expires)
}

fn worth_it(
    created: DateTime<Utc>,
    at: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let long_enough = expires - created >= TimeDelta::seconds(MIN_WINDOW_SECONDS);
    let early_enough = expires - at >= TimeDelta::seconds(MIN_LEFT_SECONDS);
    (long_enough && early_enough && at > created).then_some(at)
}

/// Written as the share (`0.8`) or `never`, as the policy document reads it.
impl serde::Serialize for RemindAt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.share() {
            Some(share) => s.serialize_f64(share),
            None => s.serialize_str("never"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    #[test]
    fn the_share_reads_as_documented() {
        assert_eq!(RemindAt::parse("0.8"), Ok(RemindAt::default()));
        assert_eq!(RemindAt::parse("never"), Ok(RemindAt::NEVER));
        assert_eq!(RemindAt::parse("0"), Ok(RemindAt::NEVER));
        assert_eq!(RemindAt::parse("0.0001").unwrap().share(), Some(0.001));
        assert_eq!(RemindAt::parse("0.9999").unwrap().share(), Some(0.999));
        for bad in ["1", "1.5", "-0.1", "NaN", "inf", "80%", "", "soon"] {
            assert!(RemindAt::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_value(RemindAt::default()).unwrap(), 0.8);
        assert_eq!(serde_json::to_value(RemindAt::NEVER).unwrap(), "never");
    }

    #[test]
    fn a_reminder_comes_at_its_share_of_the_window_unless_too_short_or_too_late() {
        let d = RemindAt::default();
        assert_eq!(d.reminds_at(t(0), t(600)), Some(t(480)));
        assert_eq!(RemindAt::NEVER.reminds_at(t(0), t(600)), None);
        // Under two minutes: none.
        assert_eq!(d.reminds_at(t(0), t(119)), None);
        // 0.8 of 5 minutes leaves 60 s: made; 0.99 of 5 minutes leaves 3 s: not.
        assert_eq!(d.reminds_at(t(0), t(300)), Some(t(240)));
        let late = RemindAt::from_share(0.99).unwrap();
        assert_eq!(late.reminds_at(t(0), t(300)), None);
    }

    #[test]
    fn an_extension_keeps_the_share_of_the_longer_window() {
        assert_eq!(rescaled(t(0), t(480), t(600), t(1200)), Some(t(960)));
        assert_eq!(rescaled(t(0), t(0), t(0), t(100)), None);
    }
}
