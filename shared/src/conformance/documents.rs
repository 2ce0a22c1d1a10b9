//! Generated agent documents: every body the door accepts is stored and read back exactly.

use super::*;
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

fn number(rng: &mut StdRng) -> Value {
    match rng.random_range(0..5) {
        0 => Value::from(rng.random::<i64>()),
        1 => Value::from(u64::MAX - rng.random_range(0..3)),
        2 => Value::from(rng.random_range(-1000..1000)),
        // Floats in the form they are kept (the door refuses any other).
        3 => serde_json::Number::from_f64(rng.random::<f64>() * 1e6)
            .map_or(Value::Null, Value::Number),
        _ => serde_json::Number::from_f64(rng.random::<f64>() * 1e-300)
            .map_or(Value::Null, Value::Number),
    }
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
            let deep = (0..crate::strict_json::MAX_DEPTH - 2).fold(value(&mut rng, 0), |v, _| {
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
        .collect()
}

/// Every generated body the door accepts is created through the service and read back from the
/// store exactly as sent, with the context hash an agent computes itself.
pub async fn accepted_documents_survive_the_store(store: Arc<dyn Store>) {
    let t = tenant();
    let service = Service::new(
        store.clone(),
        test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    );
    let agent = principal(&t, "agent");
    let bodies = generated_bodies(7, 60);
    for body in &bodies {
        crate::strict_json::check(body.as_bytes())
            .unwrap_or_else(|e| panic!("the door refused a generated body: {e}\n{body}"));
        let sent: Value = serde_json::from_str(body).unwrap();
        let request: CreateRequest = serde_json::from_str(body).unwrap();
        let (a, _) = service.create(&agent, request, None).await.unwrap();
        let stored = store.get(&t, a.id).await.unwrap().unwrap();
        assert_eq!(Value::Object(stored.context.clone()), sent["context"]);
        assert_eq!(
            stored.tool_call.as_ref().map(|c| c.arguments.clone()),
            Some(sent["tool_call"]["arguments"].clone())
        );
        assert_eq!(
            stored.state_snapshot.clone().map(Value::Object),
            Some(sent["state_snapshot"].clone())
        );
        // What an agent computes from what it sent.
        let bound = crate::canonical::digest(&json!({
            "action": sent["action"],
            "context": sent["context"],
            "tool_call": sent["tool_call"],
        }));
        assert_eq!(stored.context_hash, bound);
        // Every number reads back in the very form it was sent.
        let text = serde_json::to_string(&Value::Object(stored.context)).unwrap();
        assert_eq!(
            crate::canonical::to_canonical(&serde_json::from_str(&text).unwrap()),
            crate::canonical::to_canonical(&sent["context"])
        );
    }
}
