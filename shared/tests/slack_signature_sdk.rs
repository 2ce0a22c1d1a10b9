//! Slack's request signatures, checked against Slack's own Python SDK
//! (`slack_sdk.signature.SignatureVerifier`): what it signs, Holdpoint accepts; what Holdpoint
//! signs (as the local stand-in will), it accepts; and both refuse the same altered and stale
//! requests. Needs `slack_sdk` in `HOLDPOINT_TEST_PYTHON` (infra/test.sh installs it); when that
//! variable is set, or under CI, a Python that cannot run the check fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::DateTime;
use holdpoint::slack::signature::{SignatureRefusal, SigningSecret, verify};

const SECRET: &str = "e6b4a1c2d3f40516273849a0b1c2d3e4";
// A block_actions interaction as Slack posts it: form-encoded JSON, with a non-ASCII name.
const BODY: &str = "payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U0123ABCD%22%2C%22name%22%3A%22ren%C3%A9e%22%7D%7D&raw=ren\u{e9}e";
const AT: i64 = 1_796_000_000;

/// Signs `BODY` at `AT` with the SDK, then asks it about each `(timestamp, signature, body)`
/// with its clock at `AT`; prints the signature, then one `True`/`False` per case.
const SCRIPT: &str = r#"
import json, sys
from slack_sdk.signature import SignatureVerifier, Clock
secret, at, cases = sys.argv[1], int(sys.argv[2]), json.load(sys.stdin)
class At(Clock):
    def now(self):
        return float(at)
verifier = SignatureVerifier(secret, clock=At())
body = cases["body"]
print(verifier.generate_signature(timestamp=str(at), body=body))
for ts, sig, b in cases["checks"]:
    print(verifier.is_valid(body=b, timestamp=ts, signature=sig))
"#;

fn python() -> Option<String> {
    let set = std::env::var("HOLDPOINT_TEST_PYTHON").ok();
    let bin = set.clone().unwrap_or_else(|| "python3".to_owned());
    let ready = Command::new(&bin)
        .args(["-c", "import slack_sdk.signature"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            set.is_none() && std::env::var("CI").as_deref() != Ok("true"),
            "{bin} cannot import slack_sdk: run infra/test.sh, which installs it"
        );
        eprintln!("python3 with slack_sdk missing: the cross-check with Slack's SDK is skipped");
        return None;
    }
    Some(bin)
}

#[test]
fn slacks_sdk_and_holdpoint_agree_on_signatures() {
    let Some(bin) = python() else { return };
    let secret = SigningSecret::new(SECRET).unwrap();
    let now = DateTime::from_timestamp(AT, 0).unwrap();
    let ours = secret.sign(AT, BODY.as_bytes());
    let stale_at = AT - 6 * 60;
    let stale = secret.sign(stale_at, BODY.as_bytes());
    let other = SigningSecret::new("another app's signing secret")
        .unwrap()
        .sign(AT, BODY.as_bytes());
    let at = AT.to_string();
    let altered = format!("{BODY}&x=1");
    // (timestamp, signature, body, what Holdpoint says)
    let checks: Vec<(String, String, String, Result<(), SignatureRefusal>)> = vec![
        (at.clone(), ours.clone(), BODY.into(), Ok(())),
        (
            at.clone(),
            ours.clone(),
            altered.clone(),
            Err(SignatureRefusal::Bad),
        ),
        (
            at.clone(),
            other.clone(),
            BODY.into(),
            Err(SignatureRefusal::Bad),
        ),
        (
            stale_at.to_string(),
            stale.clone(),
            BODY.into(),
            Err(SignatureRefusal::Stale),
        ),
        (
            (AT - 1).to_string(),
            ours.clone(),
            BODY.into(),
            Err(SignatureRefusal::Bad),
        ),
    ];
    let input = serde_json::json!({
        "body": BODY,
        "checks": checks.iter().map(|(t, s, b, _)| [t, s, b]).collect::<Vec<_>>(),
    });
    let mut child = Command::new(&bin)
        .args(["-c", SCRIPT, SECRET, &at])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "slack_sdk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let theirs = lines.next().unwrap_or_default();
    assert!(
        theirs.starts_with("v0=") && theirs.len() == 67,
        "{theirs:?}"
    );
    assert_eq!(
        verify(&secret, Some(&at), Some(theirs), BODY.as_bytes(), now),
        Ok(()),
        "Holdpoint accepts what Slack's SDK signed"
    );
    assert_eq!(theirs, ours, "one signature for one request");
    let verdicts: Vec<&str> = lines.collect();
    assert_eq!(verdicts.len(), checks.len(), "{stdout}");
    for ((ts, sig, body, expected), sdk) in checks.iter().zip(verdicts) {
        let rust = verify(&secret, Some(ts), Some(sig), body.as_bytes(), now);
        assert_eq!(&rust, expected, "Holdpoint on {ts} {body:?}");
        let sdk_accepts = sdk == "True";
        assert_eq!(
            sdk_accepts,
            rust.is_ok(),
            "slack_sdk said {sdk} on {ts} {body:?}"
        );
    }
}
