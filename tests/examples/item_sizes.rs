//! DynamoDB item sizes of a typical approval and audit record through create, decide and execute,
//! by DynamoDB's rules (attribute names plus values, UTF-8; a write unit is 1 KB of item):
//! `cargo run -p holdpoint-tests --example item_sizes`.

use aws_sdk_dynamodb::types::AttributeValue;
use holdpoint::store::dynamodb::item::{self, Item};
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::{self, Command, Outcome};

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        // DynamoDB stores numbers in about (significant digits / 2) + 1 bytes.
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::L(items) => 3 + items.iter().map(|i| 1 + value_size(i)).sum::<usize>(),
        _ => 1,
    }
}

fn size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// The attributes of `item`, largest first, with their sizes (name plus value).
fn breakdown(item: &Item) -> String {
    let mut parts: Vec<_> = item
        .iter()
        .map(|(k, v)| (k.len() + value_size(v), k.as_str()))
        .collect();
    parts.sort_by(|a, b| b.cmp(a));
    parts
        .iter()
        .map(|(size, name)| format!("{name} {size}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let agent = Principal {
        tenant: "acme".into(),
        principal: "agent".into(),
        roles: vec![],
        kind: Default::default(),
    };
    let request: holdpoint_core::domain::request::CreateRequest = serde_json::from_value(serde_json::json!({
        "action": "Terminate EC2 instance i-0abc123",
        "agent_id": "ops-agent",
        "reviewers": ["reviewer"],
        "context": {"instance_id": "i-0abc123", "region": "eu-west-1"},
        "tool_call": {"name": "ec2.terminate_instances", "arguments": {"InstanceIds": ["i-0abc123"]}},
        "reason": "Idle for 30 days",
        "risk_score": 80
    }))
    .unwrap();
    let key = holdpoint::conformance::test_key();
    let (pending, mut created) = request
        .into_approval(
            &agent,
            &holdpoint_core::domain::request::Gate::open(),
            Default::default(),
            holdpoint_core::time::Clock::system().now(),
        )
        .unwrap();
    created.sign(&key);
    let reviewer = Principal {
        principal: "reviewer".into(),
        ..agent.clone()
    };
    let cmd = Command::Decide {
        by: &reviewer,
        verdict: Verdict::Approved,
        comment: Some("Checked: idle since October".into()),
        modified_output: None,
    };
    let Ok(Outcome::Changed(approved, mut decided)) =
        lifecycle::apply(&pending, cmd, holdpoint_core::time::Clock::system().now())
    else {
        panic!("decides")
    };
    decided.sign(&key);
    let Ok(Outcome::Changed(executed, mut done)) = lifecycle::apply(
        &approved,
        Command::Execute {
            by: &agent,
            context_hash: Some(approved.context_hash.clone()),
        },
        holdpoint_core::time::Clock::system().now(),
    ) else {
        panic!("executes")
    };
    done.sign(&key);
    let items = [
        (
            "approval item, pending: ",
            item::approval_item(&pending, 8).unwrap(),
        ),
        (
            "approval item, approved:",
            item::approval_item(&approved, 8).unwrap(),
        ),
        (
            "approval item, executed:",
            item::approval_item(&executed, 8).unwrap(),
        ),
        (
            "audit record, created:  ",
            item::record_item(&created).unwrap(),
        ),
        (
            "audit record, approved: ",
            item::record_item(&decided).unwrap(),
        ),
        (
            "audit record, executed: ",
            item::record_item(&done).unwrap(),
        ),
    ];
    for (what, item) in items {
        println!("{what} {} bytes ({})", size(&item), breakdown(&item));
    }
}
