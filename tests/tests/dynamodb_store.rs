//! The conformance suite on the DynamoDB store, over the wire to a DynamoDB-protocol server.

use std::sync::Arc;

use holdpoint::store::Store;

async fn fresh() -> Arc<dyn Store> {
    Arc::new(holdpoint_tests::fresh_store().await.0)
}

holdpoint::conformance_suite!(fresh());

#[tokio::test]
async fn tampering_is_detected() {
    let (store, _) = holdpoint_tests::fresh_store().await;
    let store = Arc::new(store);
    holdpoint::conformance::tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn row_tampering_is_detected() {
    let store = Arc::new(holdpoint_tests::fresh_store().await.0);
    holdpoint::conformance::row_tampering_is_detected(store.clone(), store).await;
}

#[tokio::test]
async fn previous_seals_still_verify() {
    let store = Arc::new(holdpoint_tests::fresh_store().await.0);
    holdpoint::conformance::previous_seals_still_verify(store.clone(), store).await;
}

#[tokio::test]
async fn state_tampering_is_detected() {
    let store = Arc::new(holdpoint_tests::fresh_store().await.0);
    holdpoint::conformance::state_tampering_is_detected(store.clone(), store).await;
}

mod checkpoints {
    use std::sync::Arc;

    use holdpoint::store::dynamodb::DynamoStore;

    async fn fresh() -> Arc<DynamoStore> {
        Arc::new(holdpoint_tests::fresh_store().await.0)
    }

    holdpoint::checkpoint_suite!(fresh());
}

mod directory {
    use std::sync::Arc;

    use holdpoint::directory::Directory;

    async fn fresh() -> Arc<dyn Directory> {
        Arc::new(holdpoint_tests::directory(
            &holdpoint_tests::fresh_store().await.0,
        ))
    }

    holdpoint::directory_suite!(fresh());
}

mod policies {
    use std::sync::Arc;

    use holdpoint::directory::policy::PolicyStore;
    use holdpoint::directory::policy::dynamodb::DynamoPolicies;

    async fn fresh() -> Arc<dyn PolicyStore> {
        let (store, _) = holdpoint_tests::fresh_store().await;
        Arc::new(DynamoPolicies::new(
            store.client().clone(),
            store.tables().directory.clone(),
        ))
    }

    holdpoint::policy_suite!(fresh());
}

mod deliveries {
    use std::sync::Arc;

    use holdpoint::delivery::DeliveryLog;
    use holdpoint::delivery::dynamodb::DynamoDeliveries;

    async fn fresh() -> Arc<dyn DeliveryLog> {
        let (store, _) = holdpoint_tests::fresh_store().await;
        Arc::new(DynamoDeliveries::new(
            store.client().clone(),
            store.tables().deliveries.clone(),
        ))
    }

    holdpoint::deliveries_suite!(fresh());
}

/// The item layout: the outbox's mark and items written by the previous layout.
mod layout {
    use std::sync::Arc;

    use aws_sdk_dynamodb::types::AttributeValue;
    use holdpoint::service::Service;
    use holdpoint::store::dynamodb::DynamoStore;
    use holdpoint::store::dynamodb::item::{self, Item};
    use holdpoint::store::{ListFilter, Store};
    use holdpoint_core::domain::approval::{Approval, Verdict};
    use holdpoint_core::domain::lifecycle::{self, Command, Outcome};
    use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds};
    use holdpoint_core::time::{self, Clock};
    use holdpoint_tests::acme;

    fn request() -> CreateRequest {
        serde_json::from_value(serde_json::json!({
            "action": "Refund order 1234",
            "agent_id": "billing-agent",
            "checkpoint_type": "refund",
            "reviewers": ["alice"],
            "context": {"order": 1234, "amount": "49.90"},
        }))
        .unwrap()
    }

    async fn raw(store: &DynamoStore, a: &Approval) -> Item {
        store
            .client()
            .get_item()
            .table_name(&store.tables().approvals)
            .key("pk", item::s(item::approval_pk(&a.tenant, a.id)))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    fn due_at(item: &Item) -> Option<String> {
        item::string(item, "due_at")
    }

    #[tokio::test]
    async fn the_published_mark_writes_no_document_and_moves_the_due_keys() {
        let (store, _) = holdpoint_tests::fresh_store().await;
        let now = Clock::system().now();
        let (a, record) = request()
            .into_approval(
                &acme("agent"),
                &holdpoint_core::domain::request::Gate::open(),
                ExpiryBounds::default(),
                now,
            )
            .unwrap();
        assert!(a.unpublished());
        store.create(&a, &record, None).await.unwrap();
        let before = raw(&store, &a).await;
        let at_once = format!("{}#{}", time::format(&a.created_at), a.id);
        assert_eq!(due_at(&before).as_deref(), Some(at_once.as_str()));

        let mut marked = a.clone();
        marked.published_seq = a.audit_head.sequence;
        let mut stale = marked.clone();
        stale.version += 1;
        assert!(
            !store.mark_published(&stale).await.unwrap(),
            "another version"
        );
        assert!(store.mark_published(&marked).await.unwrap());
        let after = raw(&store, &a).await;
        assert_eq!(after["doc"], before["doc"], "the document is not rewritten");
        assert_eq!(after["published"], item::n(1));
        // Its next deadline: the reminder, before the expiry.
        let reminder = a.reminds_at.expect("a reminder is owed");
        assert!(reminder < a.expires_at);
        let next = format!("{}#{}", time::format(&reminder), a.id);
        assert_eq!(due_at(&after).as_deref(), Some(next.as_str()));
        let read = store.get("acme", a.id).await.unwrap().unwrap();
        assert_eq!(read.published_seq, 1);
        assert!(read.row_mismatch.is_empty(), "{:?}", read.row_mismatch);

        // Decided: due at once while its event waits, then when its execution window closes.
        let decide = Command::Decide {
            by: &acme("alice"),
            verdict: Verdict::Approved,
            comment: None,
            modified_output: None,
        };
        let Ok(Outcome::Changed(next, record)) = lifecycle::apply(&read, decide, now) else {
            panic!("alice decides");
        };
        store
            .transition(read.version, &next, &record)
            .await
            .unwrap();
        let decided = raw(&store, &a).await;
        assert!(!decided.contains_key("published"), "the document has it");
        assert_eq!(due_at(&decided).as_deref(), Some(at_once.as_str()));
        let mut marked = next.clone();
        marked.published_seq = next.audit_head.sequence;
        assert!(store.mark_published(&marked).await.unwrap());
        let after = raw(&store, &a).await;
        assert_eq!(after["doc"], decided["doc"]);
        let execute_by = next.execute_by().expect("approved: a window");
        let lapse = format!("{}#{}", time::format(&execute_by), a.id);
        assert_eq!(due_at(&after).as_deref(), Some(lapse.as_str()));
        let read = store.get("acme", a.id).await.unwrap().unwrap();
        assert_eq!(read.published_seq, 2);
        assert!(read.row_mismatch.is_empty(), "{:?}", read.row_mismatch);
        let due = store
            .due(execute_by - chrono::TimeDelta::seconds(1), 100)
            .await;
        assert!(due.unwrap().iter().all(|d| d.id != a.id));
    }

    /// `a`'s item as the previous layout wrote it: the document as JSON text with
    /// `published_seq` inside, and the list filters' columns beside it.
    fn previous_item(a: &Approval, shards: u32) -> Item {
        let mut i = item::approval_item(a, shards).unwrap();
        let doc = serde_json::to_string(a).unwrap();
        i.insert("doc".into(), item::s(doc));
        i.insert("status".into(), item::s(a.status.as_str()));
        i.insert("expires_at".into(), item::s(time::format(&a.expires_at)));
        i.insert("agent_id".into(), item::s(&a.agent_id));
        let reviewers = a.reviewers.iter().map(item::s).collect();
        i.insert("reviewers".into(), AttributeValue::L(reviewers));
        i.insert("checkpoint_type".into(), item::s("refund"));
        i
    }

    #[tokio::test]
    async fn items_of_the_previous_layout_read_intact_and_are_rewritten_by_their_next_change() {
        let (store, _) = holdpoint_tests::fresh_store().await;
        let store = Arc::new(store);
        let service = Service::new(
            store.clone(),
            holdpoint::conformance::test_keys(),
            Clock::system(),
            ExpiryBounds::default(),
        );
        let (agent, alice) = (acme("agent"), acme("alice"));
        let (a, _) = service.create(&agent, request(), None).await.unwrap();
        let shards = store.tables().due_shards;
        let put = |i: Item| {
            let (client, table) = (store.client().clone(), store.tables().clone());
            async move {
                let t = if i.contains_key("seq") {
                    table.audit
                } else {
                    table.approvals
                };
                client
                    .put_item()
                    .table_name(t)
                    .set_item(Some(i))
                    .send()
                    .await
            }
        };
        put(previous_item(&a, shards)).await.unwrap();
        let record = store.audit("acme", a.id).await.unwrap().remove(0);
        let mut old_record = item::record_item(&record).unwrap();
        old_record.insert(
            "doc".into(),
            item::s(serde_json::to_string(&record).unwrap()),
        );
        old_record.insert("event".into(), item::s(record.event.as_str()));
        old_record.insert("at".into(), item::s(time::format(&record.at)));
        put(old_record).await.unwrap();

        let read = service.get(&agent, a.id).await.unwrap();
        assert!(read.row_mismatch.is_empty(), "{:?}", read.row_mismatch);
        assert!(read.integrity.is_ok(), "{:?}", read.integrity);
        let filter = ListFilter {
            agent_id: Some("billing-agent".into()),
            checkpoint_type: Some("refund".into()),
            reviewer: Some("alice".into()),
            ..ListFilter::default()
        };
        let page = service.list(&agent, &filter, 10, None).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(page.items[0].integrity.is_ok());
        assert!(service.audit(&agent, a.id).await.unwrap().1.valid);

        // A previous column edited is still caught.
        let mut edited = previous_item(&a, shards);
        edited.insert("agent_id".into(), item::s("someone-else"));
        put(edited).await.unwrap();
        let read = store.get("acme", a.id).await.unwrap().unwrap();
        assert_eq!(read.row_mismatch, ["agent_id"]);
        put(previous_item(&a, shards)).await.unwrap();

        let decide = Command::Decide {
            by: &alice,
            verdict: Verdict::Approved,
            comment: None,
            modified_output: None,
        };
        service.apply("acme", a.id, decide).await.unwrap();
        let now = raw(&store, &a).await;
        assert!(matches!(now["doc"], AttributeValue::B(_)), "rewritten");
        for column in [
            "status",
            "expires_at",
            "agent_id",
            "reviewers",
            "checkpoint_type",
        ] {
            assert!(!now.contains_key(column), "{column} dropped");
        }
        assert!(service.audit(&agent, a.id).await.unwrap().1.valid);
    }
}
