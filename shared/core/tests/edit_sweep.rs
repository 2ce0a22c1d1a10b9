//! Editing any part of a bundle's text fails it, in both verifiers: in the fixture good bundle,
//! each member name and each value (in the approval's documents too) has its first and last
//! letter or digit changed in turn. Only what an offline check cannot cover (the records' HMAC
//! signatures and key ids, the approval's seal, its decision's copy of a record signature, the
//! publish mark, the key list) may change unnoticed.

use std::path::Path;
use std::process::Command;

use holdpoint_core::audit::checkpoint::Jwks;
use holdpoint_core::evidence::verify_bundle_text;

/// Each member name and scalar of JSON `text`: its byte span and dotted path.
fn tokens(text: &str) -> Vec<(usize, usize, String)> {
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let path = |stack: &[Frame]| {
        let parts: Vec<String> = stack
            .iter()
            .filter_map(|f| match f {
                Frame::Object(k) => k.clone(),
                Frame::Array(i) => Some(i.to_string()),
            })
            .collect();
        parts.join(".")
    };
    let bytes = text.as_bytes();
    let (mut stack, mut out, mut i) = (Vec::new(), Vec::new(), 0);
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Frame::Object(None)),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => drop(stack.pop()),
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(k)) => *k = None,
                None => {}
            },
            b':' | b' ' | b'\n' => {}
            b'"' => {
                let start = i;
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if let Some(Frame::Object(k @ None)) = stack.last_mut() {
                    *k = Some(text[start + 1..i].to_owned());
                }
                out.push((start, i + 1, path(&stack)));
            }
            _ => {
                let start = i;
                while i + 1 < bytes.len() && !b",}] \n".contains(&bytes[i + 1]) {
                    i += 1;
                }
                out.push((start, i + 1, path(&stack)));
            }
        }
        i += 1;
    }
    out
}

fn unchecked(path: &str) -> bool {
    let record_hmac =
        path.starts_with("records.") && (path.ends_with(".signature") || path.ends_with(".key_id"));
    record_hmac
        || path.starts_with("approval.seal")
        || path == "approval.decision.signature"
        || path == "approval.published_seq"
        || path.starts_with("key_ids")
}

fn changed(c: u8) -> u8 {
    match c {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        c => c + 1,
    }
}

/// The good bundle with one letter or digit changed, for each edit: its path and text.
fn edits(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (start, end, path) in tokens(text) {
        let letters: Vec<usize> = (start..end)
            .filter(|&i| text.as_bytes()[i].is_ascii_alphanumeric())
            .collect();
        let (Some(&first), Some(&last)) = (letters.first(), letters.last()) else {
            continue;
        };
        for at in [first, last] {
            let mut edited = text.as_bytes().to_vec();
            edited[at] = changed(edited[at]);
            out.push((path.clone(), String::from_utf8(edited).unwrap()));
        }
    }
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// Runs the Python verifier on each of `texts` in one process: whether each verified.
fn python_verdicts(texts: &[&str], keys: &Path) -> Vec<bool> {
    let dir = std::env::temp_dir().join(format!("holdpoint-edit-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, t) in texts.iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.json")), t).unwrap();
    }
    let script = r#"
import sys
sys.path.insert(0, sys.argv[1])
import verify_bundle as v
keys = v.load(sys.argv[3])["keys"]
for i in range(int(sys.argv[4])):
    try:
        fail = v.verify(v.load(f"{sys.argv[2]}/{i}.json"), keys)[0]
        print("ok" if not fail else "fail")
    except (ValueError, KeyError, TypeError, AttributeError):
        print("unusable")
"#;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools");
    let out = Command::new(python_bin())
        .arg("-c")
        .arg(script)
        .arg(root)
        .arg(&dir)
        .arg(keys)
        .arg(texts.len().to_string())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<bool> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l == "ok")
        .collect();
    assert_eq!(verdicts.len(), texts.len());
    verdicts
}

fn python_ready() -> bool {
    let ready = Command::new(python_bin())
        .args(["-c", "import cryptography.hazmat.primitives.asymmetric.ec"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ready || std::env::var("CI").as_deref() != Ok("true"),
        "python3 with the `cryptography` package is needed to check tools/verify_bundle.py"
    );
    ready
}

#[test]
fn any_edit_of_what_can_be_checked_fails_in_both_verifiers() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundles");
    let text = std::fs::read_to_string(fixtures.join("good.json")).unwrap();
    let keys: Jwks =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("jwks.json")).unwrap())
            .unwrap();
    assert!(verify_bundle_text(&text, &keys).unwrap().ok());
    let edits = edits(&text);
    let checked: Vec<&(String, String)> = edits.iter().filter(|(p, _)| !unchecked(p)).collect();
    assert!(
        edits.len() > 400 && checked.len() > edits.len() * 9 / 10,
        "{} edits, {} checked",
        edits.len(),
        checked.len()
    );
    for (path, edited) in &checked {
        if let Ok(report) = verify_bundle_text(edited, &keys) {
            assert!(!report.ok(), "an edit of {path} went unnoticed");
        }
    }
    if !python_ready() {
        return;
    }
    let texts: Vec<&str> = checked.iter().map(|(_, t)| t.as_str()).collect();
    let verdicts = python_verdicts(&texts, &fixtures.join("jwks.json"));
    for ((path, _), verified) in checked.iter().zip(verdicts) {
        assert!(
            !verified,
            "an edit of {path} went unnoticed by verify_bundle.py"
        );
    }
}

/// The Python that runs the verifier: the test command's virtual environment, else `python3`.
fn python_bin() -> String {
    std::env::var("HOLDPOINT_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
