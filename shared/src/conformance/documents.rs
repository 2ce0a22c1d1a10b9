//! Generated agent documents: every body the door accepts is stored and read back exactly.

use super::fixture::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const ALPHABET: [&str; 16] = [
    "a", "Z", "0", " ", "\"", "\\", "/", "é", "ß", "中", "🦀", "\n", "\t", "\u{1}", "<", "&",
];

fn text(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..12);
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect()
}

/// Numbers as agents spell them, none in the form serde_json would print.
const SPELLED: [&str; 10] = [
    "1e2",
    "1.50",
    "-0",
    "18446744073709551616",
    "1E+300",
    "0.000001000",
    "-1.0e-7",
    "123456789012345678901234567890",
    "2.50E3",
    "0.1",
];

fn number(rng: &mut StdRng) -> Value {
    match rng.random_range(0..6) {
        0 => Value::from(rng.random::<i64>()),
        1 => Value::from(u64::MAX - rng.random_range(0..3)),
        2 => Value::from(rng.random_range(-1000..1000)),
        3 => serde_json::Number::from_f64(rng.random::<f64>() * 1e-300)
            .map_or(Value::Null, Value::Number),
        // A marker the body's text replaces by a spelled number.
        _ => Value::String(format!("#N{}#", rng.random_range(0..SPELLED.len()))),
    }
}

/// `text` with every number marker replaced by its spelling.
fn spell(mut text: String) -> String {
    for (i, spelling) in SPELLED.iter().enumerate() {
        text = text.replace(&format!("\"#N{i}#\""), spelling);
    }
    text
}

/// A JSON value nested at most `depth` more levels.
fn value(rng: &mut StdRng, depth: usize) -> Value {
    let pick = if depth == 0 {
        rng.random_range(0..4)
    } else {
        rng.random_range(0..6)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => number(rng),
        3 => Value::String(text(rng)),
        4 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.random_range(0..4))
                .map(|i| (format!("{}{i}", text(rng)), value(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// `n` create bodies (JSON text) from `seed`: contexts, tool arguments and state snapshots of
/// every depth the door accepts, unicode everywhere, numbers at their edges.
pub fn generated_bodies(seed: u64, n: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            // The body is level 1 and `context` level 2: a chain this long reaches the limit.
            let deep = (0..holdpoint_core::json::strict::MAX_DEPTH - 2).fold(value(&mut rng, 0), |v, _| {
                Value::Array(vec![v])
            });
            let mut context = serde_json::Map::new();
            context.insert("deep".into(), if i % 4 == 0 { deep } else { Value::Null });
            for k in 0..rng.random_range(0..5) {
                context.insert(format!("{}{k}", text(&mut rng)), value(&mut rng, 6));
            }
            json!({
                "action": format!("generated {i}: {}", text(&mut rng).replace(['\n', '\t', '\u{1}'], " ")),
                "agent_id": "generator",
                "reviewers": ["alice"],
                "context": context,
                "tool_call": {"name": "tool", "arguments": value(&mut rng, 8)},
                "state_snapshot": {"s": value(&mut rng, 8)},
                "expires_in_seconds": 600,
            })
            .to_string()
        })
        .map(spell)
        .collect()
}

/// Every generated body the door accepts is created through the service and read back from the
/// store exactly as sent, with the context hash an agent computes itself.
pub async fn accepted_documents_survive_the_store(store: Arc<dyn Store>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let agent = principal(&t, "agent");
    let bodies = generated_bodies(7, 60);
    for body in &bodies {
        holdpoint_core::json::strict::check(body.as_bytes())
            .unwrap_or_else(|e| panic!("the door refused a generated body: {e}\n{body}"));
        let sent: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(body).unwrap();
        let request: CreateRequest = serde_json::from_str(body).unwrap();
        let (a, _) = service.create(&agent, request, None).await.unwrap();
        let stored = store.get(&t, a.id).await.unwrap().unwrap();
        // Exactly as sent: the same text, numbers spelled as the agent spelled them.
        let compact =
            |raw: &serde_json::value::RawValue| holdpoint_core::json::canonical::compact(raw.get());
        assert_eq!(
            Some(stored.context.text().to_owned()),
            compact(&sent["context"])
        );
        assert_eq!(
            stored.state_snapshot.as_ref().map(|d| d.text().to_owned()),
            compact(&sent["state_snapshot"])
        );
        let call: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(sent["tool_call"].get()).unwrap();
        assert_eq!(
            stored
                .tool_call
                .as_ref()
                .map(|c| c.arguments.text().to_owned()),
            compact(&call["arguments"])
        );
        // What an agent computes from what it sent, in canonical form.
        let bound = format!(
            "{{\"action\":{},\"context\":{},\"tool_call\":{}}}",
            sent["action"].get(),
            sent["context"].get(),
            sent["tool_call"].get()
        );
        assert_eq!(
            stored.context_hash,
            holdpoint_core::json::canonical::digest_text(&bound)
        );
    }
}
