//! The canonical JSON form that `context_hash` and audit digests are computed over.
//!
//! Canonical form: UTF-8 JSON with no whitespace; object members sorted by the bytes of their
//! keys; strings escaped as JSON requires and nothing more (`"` `\\` and control characters,
//! which use `\n`, `\t`, ... or `\u00XX`); numbers written as given (integers as integers,
//! other numbers in their shortest round-trip form). `context_hash` is the lowercase hex
//! SHA-256 of those bytes.

use serde_json::Value;
use sha2::{Digest, Sha256};

pub fn to_canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_str(s, out),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // serde_json escapes exactly the characters JSON requires.
    out.extend_from_slice(Value::String(s.to_owned()).to_string().as_bytes());
}

/// Lowercase hex SHA-256 of the canonical form.
pub fn digest(value: &Value) -> String {
    hex::encode(Sha256::digest(to_canonical(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_at_every_depth_and_drops_whitespace() {
        let v = json!({"b": 1, "a": {"z": [1, 2, {"y": "x", "c": null}], "é": true, "A": 1.5}});
        assert_eq!(
            String::from_utf8(to_canonical(&v)).unwrap(),
            r#"{"a":{"A":1.5,"z":[1,2,{"c":null,"y":"x"}],"é":true},"b":1}"#
        );
    }

    #[test]
    fn escapes_only_what_json_requires() {
        let v = json!({"k": "quote\" back\\ nl\n tab\t ctl\u{1} é <>"});
        assert_eq!(
            String::from_utf8(to_canonical(&v)).unwrap(),
            "{\"k\":\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001 é <>\"}"
        );
    }

    #[test]
    fn digest_of_empty_object_is_sha256_of_braces() {
        assert_eq!(
            digest(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
