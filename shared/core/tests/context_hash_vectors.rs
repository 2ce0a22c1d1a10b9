//! The shared context-hash vectors (`tests/vectors/context_hash.json` at the repository's root),
//! checked with the core's own functions: the canonical form of what the hash covers and the
//! hash itself. The Python client checks the same file (`clients/python/tests/test_vectors.py`),
//! so the server, the Rust client and the Python client cannot disagree on a hash.

use holdpoint_core::domain::request::CreateRequest;
use holdpoint_core::json::canonical::canonical_text;
use holdpoint_core::json::document::Document;
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/context_hash.json"
    );
    let text = std::fs::read_to_string(path).expect("the shared vectors are readable");
    let file: Value = serde_json::from_str(&text).expect("the vectors file is JSON");
    file["vectors"]
        .as_array()
        .expect("a list of vectors")
        .clone()
}

fn text<'a>(vector: &'a Value, field: &str) -> &'a str {
    vector[field]
        .as_str()
        .unwrap_or_else(|| panic!("{}: {field} is a string", vector["name"]))
}

#[test]
fn every_vector_hashes_as_the_file_says() {
    let vectors = vectors();
    assert!(vectors.len() >= 10, "the file holds the vectors");
    for vector in &vectors {
        let name = text(vector, "name");
        let request: CreateRequest = serde_json::from_str(text(vector, "request"))
            .unwrap_or_else(|e| panic!("{name}: the request reads: {e}"));
        let edited = vector["edited"].as_str().map(|t| {
            Document::from_text(t).unwrap_or_else(|| panic!("{name}: the edits are JSON"))
        });

        // What the hash covers, written from its parts, in the core's canonical form.
        let tool_call = serde_json::to_string(&request.tool_call).expect("a tool call writes");
        let mut bound = format!(
            "{{\"action\":{},\"context\":{},\"tool_call\":{tool_call}",
            Value::String(request.action.clone()),
            request.context.text(),
        );
        if let Some(edited) = &edited {
            bound.push_str(&format!(",\"modified_output\":{}", edited.text()));
        }
        bound.push('}');
        assert_eq!(
            canonical_text(&bound).as_deref(),
            Some(text(vector, "canonical")),
            "{name}: canonical form"
        );

        assert_eq!(
            request.context_hash(edited.as_ref()),
            text(vector, "context_hash"),
            "{name}: context hash"
        );
    }
}

#[test]
fn a_changed_number_spelling_changes_the_hash() {
    let vectors = vectors();
    let numbers = vectors
        .iter()
        .find(|v| v["name"] == "spelled numbers")
        .expect("the file has the spelled numbers");
    let respelled = text(numbers, "request").replace("1.50", "1.5");
    let request: CreateRequest = serde_json::from_str(&respelled).expect("the request reads");
    assert_ne!(request.context_hash(None), text(numbers, "context_hash"));
}
