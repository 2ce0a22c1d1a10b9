//! Slack's request signatures: `X-Slack-Signature: v0={hex}` where `hex` is the HMAC-SHA256,
//! keyed with the app's signing secret, of `v0:{X-Slack-Request-Timestamp}:{raw body}`. A request
//! is taken only within five minutes of its timestamp (either way: a clock ahead is no excuse),
//! so a captured request cannot be replayed later; the comparison runs in constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The header carrying the Unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far a request's timestamp may be from now, either way (Slack's own figure).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;
const VERSION: &str = "v0";

/// A Slack app's signing secret. Never shown by `Debug`.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// The secret as Slack shows it on the app's page (its text is the HMAC key, as Slack's
    /// SDKs use it), without surrounding white space (a file's last line break is no part of
    /// it); `None` when blank.
    pub fn new(secret: &str) -> Option<SigningSecret> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| SigningSecret(secret.as_bytes().to_vec()))
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{VERSION}:{timestamp}:").as_bytes());
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The `X-Slack-Signature` value Slack would send for `body` at `timestamp` (the local
    /// stand-in and the tests sign with it).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        format!(
            "{VERSION}={}",
            hex::encode(self.mac(&timestamp.to_string(), body))
        )
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

/// Why a request was not taken as Slack's. All three mean 401 and no change; they are told
/// apart only for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRefusal {
    #[error("the request carries no Slack signature or timestamp")]
    Missing,
    #[error("the request was signed more than five minutes from now")]
    Stale,
    #[error("the request's Slack signature does not match")]
    Bad,
}

/// Checks a request's `timestamp` and `signature` header values over its raw `body` at `now`.
pub fn verify(
    secret: &SigningSecret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureRefusal> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureRefusal::Missing);
    };
    // Digits only, one spelling: what is signed is the header's text, so `+17…` or ` 17…`
    // must not pass for the same moment.
    let digits = !timestamp.is_empty()
        && timestamp.len() <= 12
        && timestamp.bytes().all(|b| b.is_ascii_digit());
    let at: i64 = match timestamp.parse() {
        Ok(at) if digits => at,
        _ => return Err(SignatureRefusal::Bad),
    };
    if (now.timestamp() - at).abs() > TOLERANCE_SECONDS {
        return Err(SignatureRefusal::Stale);
    }
    let hex = signature
        .strip_prefix(VERSION)
        .and_then(|s| s.strip_prefix('='))
        .ok_or(SignatureRefusal::Bad)?;
    // Lowercase hex only, as Slack sends it (hex decoding would also take uppercase).
    let canonical = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let given = hex::decode(hex)
        .ok()
        .filter(|_| canonical)
        .ok_or(SignatureRefusal::Bad)?;
    let expected = secret.mac(timestamp, body);
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok(())
    } else {
        Err(SignatureRefusal::Bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    const BODY: &[u8] = b"payload=%7B%22type%22%3A%22block_actions%22%7D";

    fn secret() -> SigningSecret {
        SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap()
    }

    fn check(ts: &str, sig: &str, body: &[u8], now: DateTime<Utc>) -> Result<(), SignatureRefusal> {
        verify(&secret(), Some(ts), Some(sig), body, now)
    }

    #[test]
    fn slacks_documented_example_is_accepted() {
        // The worked example of Slack's "Verifying requests from Slack" page.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let now = DateTime::from_timestamp(1531420618, 0).unwrap();
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(check("1531420618", sig, body, now), Ok(()));
        assert_eq!(secret().sign(1531420618, body), sig);
    }

    #[test]
    fn a_good_signature_within_five_minutes_either_way_is_accepted() {
        let now = Utc::now();
        let at = now.timestamp();
        for skew in [0, 299, -299, 300, -300] {
            let ts = at + skew;
            let sig = secret().sign(ts, BODY);
            assert_eq!(check(&ts.to_string(), &sig, BODY, now), Ok(()), "{skew}");
        }
    }

    #[test]
    fn stale_and_future_requests_are_refused() {
        let now = Utc::now();
        let six_ago = (now - TimeDelta::minutes(6)).timestamp();
        let sig = secret().sign(six_ago, BODY);
        assert_eq!(
            check(&six_ago.to_string(), &sig, BODY, now),
            Err(SignatureRefusal::Stale)
        );
        let ahead = (now + TimeDelta::minutes(6)).timestamp();
        let sig = secret().sign(ahead, BODY);
        assert_eq!(
            check(&ahead.to_string(), &sig, BODY, now),
            Err(SignatureRefusal::Stale)
        );
        assert_eq!(
            check("0", &secret().sign(0, BODY), BODY, now),
            Err(SignatureRefusal::Stale)
        );
    }

    #[test]
    fn another_secret_an_altered_body_or_timestamp_is_refused() {
        let now = Utc::now();
        let ts = now.timestamp();
        let other = SigningSecret::new("another app's secret").unwrap();
        let forged = other.sign(ts, BODY);
        assert_eq!(
            check(&ts.to_string(), &forged, BODY, now),
            Err(SignatureRefusal::Bad)
        );
        let sig = secret().sign(ts, BODY);
        let mut altered = BODY.to_vec();
        altered.push(b'x');
        assert_eq!(
            check(&ts.to_string(), &sig, &altered, now),
            Err(SignatureRefusal::Bad)
        );
        assert_eq!(
            check(&ts.to_string(), &sig, b"", now),
            Err(SignatureRefusal::Bad)
        );
        // The signature moved to another (still fresh) timestamp.
        assert_eq!(
            check(&(ts - 1).to_string(), &sig, BODY, now),
            Err(SignatureRefusal::Bad)
        );
        // Every single hex digit changed.
        let hex = sig.strip_prefix("v0=").unwrap();
        for i in 0..hex.len() {
            let mut b = hex.as_bytes().to_vec();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            let changed = format!("v0={}", String::from_utf8(b).unwrap());
            assert_eq!(
                check(&ts.to_string(), &changed, BODY, now),
                Err(SignatureRefusal::Bad)
            );
        }
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        let now = Utc::now();
        let ts = now.timestamp();
        let sig = secret().sign(ts, BODY);
        let t = ts.to_string();
        assert_eq!(
            verify(&secret(), None, Some(&sig), BODY, now),
            Err(SignatureRefusal::Missing)
        );
        assert_eq!(
            verify(&secret(), Some(&t), None, BODY, now),
            Err(SignatureRefusal::Missing)
        );
        assert_eq!(
            verify(&secret(), None, None, BODY, now),
            Err(SignatureRefusal::Missing)
        );
        let hex = sig.strip_prefix("v0=").unwrap();
        for bad_sig in [
            String::new(),
            hex.to_owned(),
            format!("v1={hex}"),
            format!("V0={hex}"),
            format!("v0={}", hex.to_uppercase()),
            format!("v0= {hex}"),
            format!("v0={hex} "),
            format!("v0={hex}00"),
            format!("v0={}", &hex[..62]),
            format!("{sig},{sig}"),
            "v0=".to_owned(),
            format!("v0={}", "zz".repeat(32)),
        ] {
            assert_eq!(
                check(&t, &bad_sig, BODY, now),
                Err(SignatureRefusal::Bad),
                "{bad_sig:?}"
            );
        }
        for bad_ts in [
            String::new(),
            format!("+{ts}"),
            format!(" {ts}"),
            format!("{ts}.0"),
            format!("-{ts}"),
            "99999999999999999999999".to_owned(),
            "abc".to_owned(),
        ] {
            // Signed over the very text sent, so only the timestamp's form is at fault.
            let mac = format!("v0={}", hex::encode(secret().mac(&bad_ts, BODY)));
            assert_eq!(
                check(&bad_ts, &mac, BODY, now),
                Err(SignatureRefusal::Bad),
                "{bad_ts:?}"
            );
        }
    }

    #[test]
    fn the_secret_is_never_shown_and_blank_is_no_secret() {
        assert_eq!(format!("{:?}", secret()), "SigningSecret(..)");
        assert!(SigningSecret::new("  ").is_none());
        assert!(SigningSecret::new("").is_none());
    }
}
