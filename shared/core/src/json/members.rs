//! An object's members with each value's text exactly as serialised: how an API answer, a page,
//! a callback or a CLI print carries an approval without passing it through `serde_json::Value`,
//! which would re-spell its documents' numbers (`1.50` as `1.5`, `1e2` as `100.0`) and turn a
//! number outside f64's range into an error (and so the whole answer into `null`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

/// Members sorted by name, as `serde_json::Value` had them, so answers keep their member order.
pub type Members = BTreeMap<String, Box<RawValue>>;

/// The members of the object `value` serialises to, without those named in `omit`; empty when
/// it is not an object.
pub fn of(value: &impl Serialize, omit: &[&str]) -> Members {
    let mut members: Members = serde_json::to_string(value)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    for name in omit {
        members.remove(*name);
    }
    members
}

/// `value` as one JSON value, its text exactly as serialised (`null` when it cannot be).
pub fn raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value)
        .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).expect("null is JSON"))
}

/// `value` indented for people, its numbers as written (`serde_json`'s pretty printer would
/// leave documents on one line, and `Value` would re-spell them).
pub fn pretty(value: &impl Serialize) -> String {
    let compact = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    super::canonical::pretty(&compact).unwrap_or(compact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::document::Document;

    #[derive(Serialize)]
    struct Held {
        z: u8,
        doc: Document,
        seal: &'static str,
    }

    #[test]
    fn members_keep_numbers_as_written_sorted_without_omitted() {
        let held = Held {
            z: 1,
            doc: Document::from_text(r#"{"n":[18446744073709551616,1.50,1e2,1e400]}"#).unwrap(),
            seal: "s",
        };
        let shown = serde_json::to_string(&of(&held, &["seal"])).unwrap();
        assert_eq!(
            shown,
            r#"{"doc":{"n":[18446744073709551616,1.50,1e2,1e400]},"z":1}"#
        );
        assert_eq!(raw(&held.doc).get(), held.doc.text());
        assert_eq!(
            pretty(&of(&held, &["seal", "z"])),
            "{\n  \"doc\": {\n    \"n\": [\n      18446744073709551616,\n      1.50,\n      1e2,\n      1e400\n    ]\n  }\n}"
        );
    }
}
