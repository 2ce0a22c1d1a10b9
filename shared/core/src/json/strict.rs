//! What a JSON body may hold, checked on its bytes before it is parsed:
//!
//! - no object names a member twice (which one would count is up to each parser, so two
//!   readers of the same request could see two different requests);
//! - nothing nests deeper than [`MAX_DEPTH`], well inside what every parser and store on the
//!   path accepts (serde_json's 128, with the levels the journal and items add around it), so
//!   whatever is accepted can be stored and read back after a restart.
//!
//! Numbers need no check: documents are kept as the text they were sent as (see
//! [`crate::json::document`]). Anything malformed is left for the parser, which answers 400.

use std::collections::HashSet;

use crate::invalid::Invalid;

/// The deepest nesting of a body (the body itself is level 1).
pub const MAX_DEPTH: usize = 64;

/// Checks `body`; `Err` names the first offending field (`context.amount`, `tool_call.arguments[2]`).
pub fn check(body: &[u8]) -> Result<(), Invalid> {
    let mut scanner = Scanner {
        bytes: body,
        at: 0,
        path: Vec::new(),
    };
    match scanner.value(1) {
        Ok(()) | Err(Stop::Malformed) => Ok(()),
        Err(Stop::Refused(i)) => Err(i),
    }
}

enum Stop {
    /// Not JSON: the parser says so.
    Malformed,
    Refused(Invalid),
}

enum Step {
    Key(String),
    Index(usize),
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
    path: Vec<Step>,
}

impl Scanner<'_> {
    fn field(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                Step::Key(k) if out.is_empty() => out.push_str(k),
                Step::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        if out.is_empty() {
            out.push_str("body");
        }
        out
    }

    fn refuse(&self, message: String) -> Stop {
        Stop::Refused(Invalid {
            field: self.field(),
            message,
        })
    }

    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Stop::Malformed)
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), Stop> {
        match self.peek().ok_or(Stop::Malformed)? {
            b'{' | b'[' if depth > MAX_DEPTH => {
                Err(self.refuse(format!("nests deeper than {MAX_DEPTH} levels")))
            }
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(|_| ()),
            b'-' | b'0'..=b'9' => self.number(),
            _ => self.literal(),
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), Stop> {
        self.expect(b'{')?;
        let mut seen = HashSet::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            let duplicate = !seen.insert(key.clone());
            self.path.push(Step::Key(key));
            if duplicate {
                return Err(self.refuse("is named twice in one object".into()));
            }
            self.value(depth + 1)?;
            self.path.pop();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), Stop> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            self.path.push(Step::Index(index));
            self.value(depth + 1)?;
            self.path.pop();
            index += 1;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// A string token, unescaped.
    fn string(&mut self) -> Result<String, Stop> {
        if self.peek() != Some(b'"') {
            return Err(Stop::Malformed);
        }
        let start = self.at;
        self.at += 1;
        loop {
            match self.bytes.get(self.at).ok_or(Stop::Malformed)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    break;
                }
                _ => self.at += 1,
            }
        }
        let raw = self.bytes.get(start..self.at).ok_or(Stop::Malformed)?;
        serde_json::from_slice(raw).map_err(|_| Stop::Malformed)
    }

    fn number(&mut self) -> Result<(), Stop> {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.at += 1;
        }
        Ok(())
    }

    fn literal(&mut self) -> Result<(), Stop> {
        for word in [&b"true"[..], b"false", b"null"] {
            if self.bytes[self.at..].starts_with(word) {
                self.at += word.len();
                return Ok(());
            }
        }
        Err(Stop::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> Option<(String, String)> {
        check(body.as_bytes()).err().map(|i| (i.field, i.message))
    }

    #[test]
    fn a_member_named_twice_is_refused_after_unescaping() {
        assert_eq!(
            refused(r#"{"context": {"a": 1, "\u0061": 2}}"#).map(|r| r.0),
            Some("context.a".into())
        );
        assert_eq!(refused(r#"{"a": {"b": 1}, "b": {"b": 2}}"#), None);
    }

    #[test]
    fn nesting_is_bounded_and_malformed_input_is_left_to_the_parser() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(refused(&deep(MAX_DEPTH)), None);
        assert!(refused(&deep(MAX_DEPTH + 1)).is_some());
        assert_eq!(refused("{\"a\": "), None, "the parser answers that");
        assert_eq!(refused("{\"a\": tru}"), None);
    }
}
