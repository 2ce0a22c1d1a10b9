//! Tenant policies on DynamoDB: set beside the directory, read at every create, and a deny, an
//! allow and an ask each end as the rules say, with the round trips a policy adds.

use std::collections::BTreeMap;
use std::sync::Arc;

use holdpoint::directory::policy::dynamodb::DynamoPolicies;
use holdpoint::directory::{Directory, Entry};
use holdpoint::service::policy::PolicyRefusal;
use holdpoint::service::{Service, ServiceError};
use holdpoint_core::audit::AuditEvent;
use holdpoint_core::domain::approval::Status;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
use holdpoint_core::time::Clock;
use holdpoint_tests::acme as who;

const POLICY: &str = r#"rules:
  - id: production-deletes
    match: {action: "*delete*", when: 'context.environment == "production"'}
    outcome: deny
  - id: read-only-tools
    match: {tool: "*.get"}
    outcome: allow
  - id: finance-payments
    match: {tool: "payments.*"}
    outcome: ask
    reviewers: ["role:finance"]
    quorum: 2
    agents_may_add_reviewers: false
"#;

fn request(action: &str, tool: &str) -> CreateRequest {
    serde_json::from_value(serde_json::json!({
        "action": action,
        "reviewers": ["alice"],
        "tool_call": {"name": tool, "arguments": {}},
        "context": {"environment": "production"},
    }))
    .unwrap()
}

fn entry(name: &str, roles: &[&str]) -> Entry {
    Entry {
        tenant: "acme".into(),
        name: name.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        kind: Default::default(),
        email: None,
        webhook: None,
        iam_arns: Vec::new(),
        key_hash: None,
        slack: None,
        webhook_secret: None,
        instance: None,
    }
}

#[tokio::test]
async fn deny_allow_and_ask_on_dynamodb() {
    let (store, counter) = holdpoint_tests::fresh_store().await;
    let directory = holdpoint_tests::directory(&store);
    for (name, roles) in [("root", &["admin"][..]), ("fiona", &["finance"][..])] {
        directory.put(&entry(name, roles), true).await.unwrap();
    }
    let policies = DynamoPolicies::new(store.client().clone(), store.tables().directory.clone());
    let store = Arc::new(store);
    let service = Service::new(
        store.clone(),
        holdpoint::conformance::test_keys(),
        Clock::system(),
        ExpiryBounds::default(),
    )
    .with_directory(Arc::new(directory))
    .with_policies(Arc::new(policies));
    let mut root = who("root");
    root.roles = vec!["admin".into()];
    let agent = who("agent");

    let set = service.set_policy(&root, POLICY, None).await.unwrap();
    assert_eq!(set.version, 1);
    let refused = service
        .set_policy(
            &root,
            &POLICY.replace("role:finance", "role:treasury"),
            Some(1),
        )
        .await;
    assert!(
        matches!(&refused, Err(ServiceError::Policy(PolicyRefusal::Invalid(e))) if e.rule.as_deref() == Some("finance-payments")),
        "{refused:?}"
    );
    assert_eq!(service.policy(&root).await.unwrap().text, POLICY);

    counter.reset();
    let (asked, _) = service
        .create(&agent, request("pay", "payments.send"), None)
        .await
        .unwrap();
    assert_eq!(
        counter.counts(),
        BTreeMap::from([
            ("Query".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ]),
        "one more read for the policy in force (its parse is kept; a role needs no lookup)"
    );
    assert_eq!(asked.reviewers, ["role:finance"]);
    assert_eq!(asked.quorum, 2);
    let governed = asked.governed_by.clone().unwrap();
    assert_eq!(
        (governed.policy_version, governed.rules),
        (1, vec!["finance-payments".to_owned()])
    );

    let (allowed, created) = service
        .create(&agent, request("read", "invoices.get"), None)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(allowed.status, Status::Approved);
    assert_eq!(allowed.decision.unwrap().by, "policy:read-only-tools");

    let denied = service
        .create(&agent, request("delete rows", "db.exec"), None)
        .await;
    let Err(ServiceError::Policy(PolicyRefusal::Denied { approval, rule, .. })) = denied else {
        panic!("{denied:?}");
    };
    assert_eq!(rule, "production-deletes");
    let (records, verification) = service.audit(&agent, approval).await.unwrap();
    assert!(verification.valid, "{verification:?}");
    let events: Vec<_> = records
        .iter()
        .map(|r| (r.event, r.actor.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (AuditEvent::Created, "agent"),
            (AuditEvent::Rejected, "policy:production-deletes")
        ]
    );
    let stored = service.get(&agent, approval).await.unwrap();
    assert_eq!(stored.status, Status::Rejected);
    assert_eq!(stored.governed_by.unwrap().policy_version, 1);
}
