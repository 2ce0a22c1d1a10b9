//! Editing any part of a bundle's text fails it: each member name and each value (in the
//! approval's documents too) has its first and last letter or digit changed in turn. Only the
//! parts an offline check cannot cover (the HMAC signatures and seal, the publish mark, the key
//! list) may change unnoticed.

use super::*;

/// Each member name and scalar of compact JSON `text`: its byte span and dotted path.
fn tokens(text: &str) -> Vec<(usize, usize, String)> {
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let path = |stack: &[Frame], last: Option<&str>| {
        let mut parts: Vec<String> = stack
            .iter()
            .filter_map(|f| match f {
                Frame::Object(k) => k.clone(),
                Frame::Array(i) => Some(i.to_string()),
            })
            .collect();
        parts.extend(last.map(str::to_owned));
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
            b':' => {}
            b'"' => {
                let start = i;
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let body = &text[start + 1..i];
                match stack.last_mut() {
                    Some(Frame::Object(k @ None)) => {
                        *k = Some(body.to_owned());
                        out.push((start, i + 1, path(&stack, None)));
                    }
                    _ => out.push((start, i + 1, path(&stack, None))),
                }
            }
            _ => {
                let start = i;
                while i + 1 < bytes.len() && !b",}]".contains(&bytes[i + 1]) {
                    i += 1;
                }
                out.push((start, i + 1, path(&stack, None)));
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

#[test]
fn any_edit_of_what_can_be_checked_fails_the_bundle() {
    let s = story();
    let mut whole = s.bundle();
    whole.checkpoints = s.checkpoints.clone();
    let text = serde_json::to_string(&whole).unwrap();
    let keys = jwks(&[key_a(), key_b()]);
    assert!(verify_bundle_text(&text, &keys).unwrap().ok());
    let (mut edits, mut allowed) = (0, 0);
    for (start, end, path) in tokens(&text) {
        let letters: Vec<usize> = (start..end)
            .filter(|&i| text.as_bytes()[i].is_ascii_alphanumeric())
            .collect();
        let (Some(&first), Some(&last)) = (letters.first(), letters.last()) else {
            continue;
        };
        for at in [first, last] {
            let mut edited = text.clone().into_bytes();
            edited[at] = changed(edited[at]);
            let edited = String::from_utf8(edited).unwrap();
            edits += 1;
            let Ok(report) = verify_bundle_text(&edited, &keys) else {
                continue; // no longer a bundle at all
            };
            if unchecked(&path) {
                allowed += 1;
            } else {
                assert!(
                    !report.ok(),
                    "an edit of {path} at byte {at} went unnoticed"
                );
            }
        }
    }
    assert!(
        edits > 400 && allowed < edits / 10,
        "{edits} edits, {allowed} unchecked"
    );
}
