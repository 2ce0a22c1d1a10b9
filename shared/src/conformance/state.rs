//! Tampering with the stored approval itself (the approvals table is not append-only), and the
//! state check that catches it on reads, in verification and before every change.

use super::events::RecordingSink;
use super::fixture::*;
use super::tamper::Tamper;
use crate::events::INTEGRITY_VIOLATION;
use holdpoint_core::domain::seal::Integrity;
use serde_json::Value;

/// An edited value of field `name` (currently `value`) that still decodes as an approval.
fn edited(name: &str, value: &Value) -> Value {
    let at = json!("2099-01-01T00:00:00.000Z");
    match (name, value) {
        ("id", _) => json!(Uuid::new_v4()),
        ("status", _) => json!("approved"),
        (
            "created_at" | "expires_at" | "escalates_at" | "executed_at" | "latest_expiry"
            | "reminds_at",
            _,
        ) => at,
        ("decision", Value::Null) => json!({
            "decision": "approved", "by": "mallory", "at": at,
            "comment": null, "modified_output": null,
        }),
        ("tool_call", Value::Object(_)) => json!({"name": "shell.exec", "arguments": {}}),
        ("approvals", _) => json!([{"by": "mallory", "at": at, "comment": null}]),
        ("escalation", _) => json!([{"after_seconds": 1, "reviewers": ["mallory"]}]),
        ("reviewers", _) => json!(["mallory"]),
        ("audit_head", _) => json!({"sequence": 2, "hash": "0".repeat(64)}),
        ("seal", Value::Object(m)) => {
            let mut m = m.clone();
            m.insert("signature".into(), json!("0".repeat(64)));
            Value::Object(m)
        }
        (_, Value::Null) => json!("mallory"),
        (_, Value::String(s)) => json!(format!("{s}x")),
        (_, Value::Number(n)) => json!(n.as_u64().unwrap_or(0) + 1),
        (_, Value::Bool(b)) => json!(!b),
        (_, Value::Object(m)) => {
            let mut m = m.clone();
            m.insert("injected".into(), json!(1));
            Value::Object(m)
        }
        (_, Value::Array(a)) => {
            let mut a = a.clone();
            a.push(json!("mallory"));
            Value::Array(a)
        }
    }
}

fn is_integrity_violation(r: &Result<Approval, ServiceError>) -> bool {
    matches!(r, Err(ServiceError::IntegrityViolation(_)))
}

/// Every field of a stored approval, edited behind the service's back, is shown as broken,
/// fails verification naming the field, and stops every transition with an integrity violation
/// (announced on the bus); a decision rolled back to an earlier, genuinely signed state is caught
/// by verification and refused at the next write.
pub async fn state_tampering_is_detected(store: Arc<dyn Store>, tamper: Arc<dyn Tamper>) {
    let t = tenant();
    let sink = Arc::new(RecordingSink::default());
    let service = service_on(&store, Clock::system()).with_events(sink.clone(), "https://hp.test");
    let (agent, bob) = (principal(&t, "agent"), principal(&t, "bob"));
    let reviewers: Vec<String> = ["alice", "bob", "carol"].map(String::from).to_vec();
    let extra = json!({
        "quorum": 2, "checkpoint_type": "sql", "execution_id": "run-1", "session_id": "s-1",
        "state_snapshot": {"step": 3},
        "escalation": [{"after_seconds": 300, "reviewers": ["dave", "erin"]}],
    });
    let (a, _) = service
        .create(&agent, request(&reviewers, extra), None)
        .await
        .unwrap();
    service
        .apply(&t, a.id, approve(&principal(&t, "alice")))
        .await
        .unwrap();
    let original = store.get(&t, a.id).await.unwrap().unwrap();
    assert!(
        service.get(&agent, a.id).await.unwrap().integrity.is_ok(),
        "an untouched approval is intact"
    );
    let Value::Object(doc) = serde_json::to_value(&original).unwrap() else {
        panic!("an approval is an object");
    };

    let mut fields = 0;
    for (name, value) in &doc {
        // Not state: it only says which events were published, and changes without a record.
        if name == "published_seq" {
            continue;
        }
        let mut changed = doc.clone();
        changed.insert(name.clone(), edited(name, value));
        let forged: Approval = serde_json::from_value(Value::Object(changed))
            .unwrap_or_else(|e| panic!("{name}: the edit must still decode: {e}"));
        assert_ne!(forged, original, "{name}: the edit changed something");
        tamper.put_approval(&t, a.id, &forged).await;
        fields += 1;

        let commands = [
            approve(&bob),
            Command::Decide {
                by: &bob,
                verdict: Verdict::Rejected,
                comment: Some("no".into()),
                modified_output: None,
            },
            Command::Decide {
                by: &bob,
                verdict: Verdict::Modified,
                comment: None,
                modified_output: Some(json!({"x": 1}).into()),
            },
            Command::Cancel {
                by: &agent,
                reason: None,
            },
            Command::Execute {
                by: &agent,
                context_hash: Some("0".repeat(64)),
            },
            Command::Extend {
                by: &bob,
                seconds: 60,
                reason: None,
                max_lifetime_seconds: 3_600,
            },
            Command::Expire,
            Command::Escalate,
            Command::Lapse,
        ];
        if name == "tenant" {
            // The tenant is part of the key: the edit moves or hides the approval, and nothing
            // can change it under either tenant.
            for cmd in commands {
                let r = service.apply(&t, a.id, cmd).await;
                assert!(
                    is_integrity_violation(&r) || matches!(r, Err(ServiceError::NotFound)),
                    "tenant: {r:?}"
                );
            }
        } else {
            let shown = service.get(&agent, a.id).await.unwrap();
            assert_eq!(
                shown.integrity,
                Integrity::Broken,
                "{name}: shown as broken"
            );
            let (_, v) = service.audit(&agent, a.id).await.unwrap();
            assert!(!v.valid, "{name}: verification fails");
            let reason = v.reason.unwrap_or_default();
            let named = reason.contains(name.as_str()) || name == "audit_head";
            assert!(named, "{name}: the reason names it: {reason}");
            for cmd in commands {
                let r = service.apply(&t, a.id, cmd.clone()).await;
                assert!(is_integrity_violation(&r), "{name}: {cmd:?} gave {r:?}");
            }
        }
        tamper.put_approval(&t, a.id, &original).await;
    }
    assert!(fields >= 28, "every field was edited ({fields})");
    let violations = sink
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.detail_type == INTEGRITY_VIOLATION && e.detail.approval_id == a.id)
        .count();
    assert!(
        violations >= 6 * 27,
        "each refusal is announced ({violations})"
    );

    // Restored, it is whole again and decides.
    assert!(service.get(&agent, a.id).await.unwrap().integrity.is_ok());
    let (_, v) = service.audit(&agent, a.id).await.unwrap();
    assert!(v.valid, "restored: {v:?}");
    let approved = service.apply(&t, a.id, approve(&bob)).await.unwrap();
    assert_eq!(approved.status, Status::Approved);

    // Rolled back to the genuine pending state before bob's decision.
    tamper.put_approval(&t, a.id, &original).await;
    let (_, v) = service.audit(&agent, a.id).await.unwrap();
    assert!(!v.valid, "a rolled-back decision fails verification");
    let carol = principal(&t, "carol");
    let r = service.apply(&t, a.id, approve(&carol)).await;
    assert!(
        is_integrity_violation(&r),
        "deciding again on a rolled-back state: {r:?}"
    );
    assert_eq!(
        store.audit(&t, a.id).await.unwrap().len(),
        3,
        "nothing written"
    );
}
