//! DynamoDB item sizes of a typical approval and audit record, by DynamoDB's rules (attribute
//! names plus values, UTF-8): `cargo run -p holdpoint-tests --example item_sizes`.

use aws_sdk_dynamodb::types::AttributeValue;
use holdpoint::store::dynamodb::item::{self, Item};
use holdpoint_core::domain::approval::Verdict;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::{self, Command, Outcome};

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        // DynamoDB stores numbers in about (significant digits / 2) + 1 bytes.
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::L(items) => 3 + items.iter().map(|i| 1 + value_size(i)).sum::<usize>(),
        _ => 1,
    }
}

fn size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn main() {
    let agent = Principal {
        tenant: "acme".into(),
        principal: "agent".into(),
        roles: vec![],
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
    println!(
        "approval item, pending:   {} bytes",
        size(&item::approval_item(&pending, 8).unwrap())
    );
    println!(
        "approval item, approved:  {} bytes",
        size(&item::approval_item(&approved, 8).unwrap())
    );
    println!(
        "audit record, created:    {} bytes",
        size(&item::record_item(&created).unwrap())
    );
    println!(
        "audit record, approved:   {} bytes",
        size(&item::record_item(&decided).unwrap())
    );
}
