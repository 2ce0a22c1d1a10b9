//! The canonical JSON form that `context_hash`, the state digest and audit digests are
//! computed over, and the other forms an agent's document is written in.
//!
//! Canonical form: UTF-8 JSON with no whitespace; object members sorted by the bytes of their
//! keys; strings escaped as JSON requires and nothing more (`"` `\\` and control characters,
//! which use `\n`, `\t`, ... or `\u00XX`); numbers written exactly as the agent wrote them.
//! `context_hash` is the lowercase hex SHA-256 of those bytes.
//!
//! The forms work on JSON text, not on parsed values, so a number is never re-spelled: `1e2`
//! stays `1e2`, `18446744073709551616` stays that.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The deepest a document these forms read may nest (the document itself is level 1): twice
/// what an agent may send ([`crate::json::strict::MAX_DEPTH`]), for the levels records wrap
/// around it, and below serde_json's own limit. Deeper text is not read (the parser recurses,
/// and a deep enough text would overflow the stack).
pub const MAX_NESTING: usize = 2 * crate::json::strict::MAX_DEPTH - 1;

/// A parsed JSON text whose scalars keep their spelling.
enum Node<'a> {
    /// A number, `true`, `false` or `null`, as written.
    Literal(&'a str),
    Str(String),
    Array(Vec<Node<'a>>),
    Object(Vec<(String, Node<'a>)>),
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    /// Of the node being read.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn node(&mut self) -> Option<Node<'a>> {
        self.depth += 1;
        let node = self.nested();
        self.depth -= 1;
        node
    }

    fn nested(&mut self) -> Option<Node<'a>> {
        match self.peek()? {
            b'{' | b'[' if self.depth > MAX_NESTING => None,
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                if self.eat(b'}').is_some() {
                    return Some(Node::Object(members));
                }
                loop {
                    let key = self.string()?;
                    self.eat(b':')?;
                    members.push((key, self.node()?));
                    if self.eat(b',').is_none() {
                        self.eat(b'}')?;
                        return Some(Node::Object(members));
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.eat(b']').is_some() {
                    return Some(Node::Array(items));
                }
                loop {
                    items.push(self.node()?);
                    if self.eat(b',').is_none() {
                        self.eat(b']')?;
                        return Some(Node::Array(items));
                    }
                }
            }
            b'"' => self.string().map(Node::Str),
            _ => {
                let start = self.at;
                let rest = &self.text.as_bytes()[start..];
                let len = rest
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                    .count();
                self.at += len;
                (len > 0).then(|| Node::Literal(&self.text[start..start + len]))
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at;
        let bytes = self.text.as_bytes();
        self.at += 1;
        loop {
            match bytes.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    break;
                }
                _ => self.at += 1,
            }
        }
        serde_json::from_str(&self.text[start..self.at]).ok()
    }
}

fn parse(text: &str) -> Option<Node<'_>> {
    let mut p = Parser {
        text,
        at: 0,
        depth: 0,
    };
    let node = p.node()?;
    p.skip_space();
    (p.at == text.len()).then_some(node)
}

/// How deep JSON `text` nests (a scalar is 0, `[]` 1), counting brackets outside strings and
/// without recursing, so it answers for any text; for malformed text, a bound.
pub fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for b in text.bytes() {
        match (in_string, b) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (false, b'{' | b'[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn write_str(s: &str, out: &mut String) {
    // serde_json escapes exactly the characters JSON requires.
    out.push_str(&Value::String(s.to_owned()).to_string());
}

/// How members are ordered and whether lines are indented.
#[derive(Clone, Copy)]
enum Form {
    /// Members as written, no whitespace.
    Compact,
    /// Members sorted by key bytes, no whitespace.
    Canonical,
    /// Members as written, two-space indentation.
    Pretty,
}

fn write(node: &Node<'_>, form: Form, depth: usize, out: &mut String) {
    let indent = |out: &mut String, depth: usize| {
        if let Form::Pretty = form {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    match node {
        Node::Literal(l) => out.push_str(l),
        Node::Str(s) => write_str(s, out),
        Node::Array(items) if items.is_empty() => out.push_str("[]"),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write(item, form, depth + 1, out);
            }
            indent(out, depth);
            out.push(']');
        }
        Node::Object(members) if members.is_empty() => out.push_str("{}"),
        Node::Object(members) => {
            let mut members: Vec<&(String, Node<'_>)> = members.iter().collect();
            if let Form::Canonical = form {
                members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_str(k, out);
                out.push(':');
                if let Form::Pretty = form {
                    out.push(' ');
                }
                write(v, form, depth + 1, out);
            }
            indent(out, depth);
            out.push('}');
        }
    }
}

fn rewrite(text: &str, form: Form) -> Option<String> {
    let node = parse(text)?;
    let mut out = String::with_capacity(text.len());
    write(&node, form, 0, &mut out);
    Some(out)
}

/// `text` (valid JSON) without insignificant whitespace, members in the order written, numbers
/// as written, strings escaped only where JSON requires.
pub fn compact(text: &str) -> Option<String> {
    rewrite(text, Form::Compact)
}

/// `text` (valid JSON) indented for people, numbers as written.
pub fn pretty(text: &str) -> Option<String> {
    rewrite(text, Form::Pretty)
}

/// The canonical form of JSON text.
pub fn canonical_text(text: &str) -> Option<String> {
    rewrite(text, Form::Canonical)
}

/// The canonical form of `value`.
pub fn to_canonical(value: &Value) -> Vec<u8> {
    canonical_text(&value.to_string())
        .unwrap_or_default()
        .into_bytes()
}

/// Lowercase hex SHA-256 of the canonical form of `value`.
pub fn digest(value: &Value) -> String {
    hex::encode(Sha256::digest(to_canonical(value)))
}

/// Lowercase hex SHA-256 of the canonical form of JSON text.
pub fn digest_text(text: &str) -> String {
    hex::encode(Sha256::digest(
        canonical_text(text).unwrap_or_default().as_bytes(),
    ))
}

/// Lowercase hex SHA-256 of the canonical form of what `value` serialises to (documents inside
/// it keep their numbers as written).
pub fn digest_of(value: &impl serde::Serialize) -> String {
    digest_text(&serde_json::to_string(value).unwrap_or_default())
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

    #[test]
    fn text_nested_past_the_limit_is_not_read_and_does_not_overflow_the_stack() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(compact(&deep(MAX_NESTING)).is_some());
        assert!(compact(&deep(MAX_NESTING + 1)).is_none());
        assert!(canonical_text(&deep(1_000_000)).is_none());
        assert_eq!(nesting(&deep(MAX_NESTING + 1)), MAX_NESTING + 1);
        assert_eq!(nesting(r#"{"a":"[[\"[{","b":[{}]}"#), 3);
        assert_eq!(nesting("1"), 0);
    }

    #[test]
    fn numbers_keep_their_spelling_in_every_form() {
        let text = "{ \"b\": [1e2, 18446744073709551616, 1.50, -0],\n \"a\": \"\\u0061\" }";
        assert_eq!(
            canonical_text(text).unwrap(),
            r#"{"a":"a","b":[1e2,18446744073709551616,1.50,-0]}"#
        );
        assert_eq!(
            compact(text).unwrap(),
            r#"{"b":[1e2,18446744073709551616,1.50,-0],"a":"a"}"#
        );
        assert_eq!(
            pretty(r#"{"a":[1e2,{}],"b":{"c":null}}"#).unwrap(),
            "{\n  \"a\": [\n    1e2,\n    {}\n  ],\n  \"b\": {\n    \"c\": null\n  }\n}"
        );
    }
}
