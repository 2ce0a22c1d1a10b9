//! An agent's JSON document — a context, tool arguments, a state snapshot, edited output, an
//! audit payload — kept as the JSON text it was sent as, without insignificant whitespace. Its
//! numbers are never re-spelled (`1e2` stays `1e2`, `18446744073709551616` stays that), so what
//! is stored, hashed and shown is exactly what the agent sent.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::json::canonical;

#[derive(Clone)]
pub struct Document(Box<RawValue>);

impl Document {
    /// The document of JSON `text`; `None` when it is not JSON.
    pub fn from_text(text: &str) -> Option<Document> {
        let compact = canonical::compact(text)?;
        RawValue::from_string(compact).ok().map(Document)
    }

    /// The document `value` serialises to (documents inside it keep their text).
    pub fn of(value: &impl Serialize) -> Document {
        serde_json::to_string(value)
            .ok()
            .and_then(|t| Document::from_text(&t))
            .unwrap_or_else(Document::null)
    }

    pub fn null() -> Document {
        Document::from_text("null").expect("null is JSON")
    }

    pub fn empty_object() -> Document {
        Document::from_text("{}").expect("{} is JSON")
    }

    /// The compact text, as stored and shown.
    pub fn text(&self) -> &str {
        self.0.get()
    }

    pub fn is_null(&self) -> bool {
        self.text() == "null"
    }

    pub fn is_object(&self) -> bool {
        self.text().starts_with('{')
    }

    /// The canonical form (members sorted), what digests are computed over.
    pub fn canonical(&self) -> String {
        canonical::canonical_text(self.text()).unwrap_or_default()
    }

    /// Lowercase hex SHA-256 of the canonical form.
    pub fn digest(&self) -> String {
        canonical::digest_text(self.text())
    }

    /// Indented for people, numbers as sent.
    pub fn pretty(&self) -> String {
        canonical::pretty(self.text()).unwrap_or_else(|| self.text().to_owned())
    }
}

impl Default for Document {
    fn default() -> Document {
        Document::null()
    }
}

impl From<Value> for Document {
    fn from(value: Value) -> Document {
        Document::of(&value)
    }
}

/// Two documents are equal when their canonical forms are: the same members, whatever their
/// order, and the same numbers as written.
impl PartialEq for Document {
    fn eq(&self, other: &Document) -> bool {
        self.text() == other.text() || self.canonical() == other.canonical()
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Document {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Document, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Document::from_text(raw.get()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "a document must be JSON nested at most {} levels deep",
                canonical::MAX_NESTING
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_survive_storage_as_sent() {
        #[derive(Serialize, Deserialize)]
        struct Holder {
            doc: Document,
        }
        let sent = r#"{"doc": {"big": 18446744073709551616, "e": 1e2, "p": 1.50}}"#;
        let held: Holder = serde_json::from_str(sent).unwrap();
        let stored = serde_json::to_string(&held).unwrap();
        assert_eq!(
            stored,
            r#"{"doc":{"big":18446744073709551616,"e":1e2,"p":1.50}}"#
        );
        let again: Holder = serde_json::from_str(&stored).unwrap();
        assert_eq!(again.doc.text(), held.doc.text());
        assert_eq!(
            Document::from_text(r#"{"p":1.50,"e":1e2}"#).unwrap(),
            Document::from_text(r#"{"e":1e2, "p":1.50}"#).unwrap()
        );
        assert_ne!(
            Document::from_text("1e2").unwrap(),
            Document::from_text("100").unwrap()
        );
    }
}
