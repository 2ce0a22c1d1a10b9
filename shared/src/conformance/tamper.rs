//! Tampering with stored audit chains behind the service's back, and its detection.

use super::fixture::*;

/// Raw writes behind the service's back, for tamper tests: each backend's own, all of them here,
/// behind the `conformance` feature and out of the production path.
#[async_trait::async_trait]
pub trait Tamper: Send + Sync {
    /// Stores `record` at position `sequence` of its chain, replacing what is there.
    async fn put_record_at(&self, sequence: u64, record: &AuditRecord);
    /// Removes the record at `sequence`.
    async fn delete_record(&self, tenant: &str, id: Uuid, sequence: u64);
    /// Stores `approval` as the approval `id` of `tenant`, whatever it says, past every check.
    async fn put_approval(&self, tenant: &str, id: Uuid, approval: &Approval);
    /// Copies the stored document of approval `from` over the row of approval `to`, leaving
    /// that row's key and columns as they are.
    async fn copy_body(&self, tenant: &str, from: Uuid, to: Uuid);
    /// Moves the row of approval `id` to tenant `other`: its key and tenant columns.
    async fn move_row(&self, tenant: &str, id: Uuid, other: &str);
    /// Edits one column beside the document of approval `id`.
    async fn edit_column(&self, tenant: &str, id: Uuid, column: Column);
}

/// A column kept beside an approval's document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The stored status (and, on DynamoDB, the status index key), set to `approved`.
    Status,
    /// The due time, moved to 2099 (out of the sweep's sight).
    DueAt,
    /// The outbox's published mark, raised past the chain (its events would never be sent).
    Published,
}

#[cfg(feature = "embedded")]
#[async_trait::async_trait]
impl Tamper for crate::store::embedded::EmbeddedStore {
    async fn put_record_at(&self, sequence: u64, record: &AuditRecord) {
        self.tamper_record(sequence, record);
    }

    async fn delete_record(&self, _tenant: &str, id: Uuid, sequence: u64) {
        self.tamper_delete_record(id, sequence);
    }

    async fn put_approval(&self, _tenant: &str, id: Uuid, approval: &Approval) {
        self.tamper_approval(id, approval);
    }

    async fn copy_body(&self, _tenant: &str, from: Uuid, to: Uuid) {
        use crate::store::embedded::schema::id;
        self.tamper(
            "UPDATE approvals SET body = (SELECT body FROM approvals WHERE id = ?1) WHERE id = ?2",
            rusqlite::params![id(from), id(to)],
        );
    }

    async fn move_row(&self, _tenant: &str, id: Uuid, other: &str) {
        use crate::store::embedded::schema;
        self.tamper(
            "UPDATE approvals SET tenant = ?2 WHERE id = ?1",
            rusqlite::params![schema::id(id), other],
        );
        self.tamper(
            "UPDATE reviewers SET tenant = ?2 WHERE approval_id = ?1",
            rusqlite::params![schema::id(id), other],
        );
    }

    async fn edit_column(&self, _tenant: &str, id: Uuid, column: Column) {
        use crate::store::embedded::schema;
        let sql = match column {
            Column::Status => "UPDATE approvals SET status = 'approved' WHERE id = ?1",
            Column::DueAt => "UPDATE approvals SET due_at = 4070908800000 WHERE id = ?1",
            Column::Published => "UPDATE approvals SET published_seq = 99 WHERE id = ?1",
        };
        self.tamper(sql, rusqlite::params![schema::id(id)]);
    }
}

/// On DynamoDB: raw PutItem and DeleteItem on the audit table, past the service.
#[cfg(feature = "dynamodb")]
#[async_trait::async_trait]
impl Tamper for crate::store::dynamodb::DynamoStore {
    async fn put_record_at(&self, sequence: u64, record: &AuditRecord) {
        use crate::store::dynamodb::item;
        let mut raw = item::record_item(record).expect("encodes");
        raw.insert("seq".into(), item::n(sequence));
        self.client()
            .put_item()
            .table_name(&self.tables().audit)
            .set_item(Some(raw))
            .send()
            .await
            .expect("raw put");
    }

    async fn delete_record(&self, tenant: &str, id: Uuid, sequence: u64) {
        use crate::store::dynamodb::item;
        self.client()
            .delete_item()
            .table_name(&self.tables().audit)
            .key("approval", item::s(item::chain_key(tenant, id)))
            .key("seq", item::n(sequence))
            .send()
            .await
            .expect("raw delete");
    }

    async fn put_approval(&self, tenant: &str, id: Uuid, approval: &Approval) {
        use crate::store::dynamodb::item;
        let mut raw = item::approval_item(approval, self.tables().due_shards).expect("encodes");
        raw.insert("pk".into(), item::s(item::approval_pk(tenant, id)));
        self.raw_put(raw).await;
    }

    async fn copy_body(&self, tenant: &str, from: Uuid, to: Uuid) {
        let source = self.raw_get(tenant, from).await;
        let mut target = self.raw_get(tenant, to).await;
        target.insert("doc".into(), source["doc"].clone());
        self.raw_put(target).await;
    }

    async fn move_row(&self, tenant: &str, id: Uuid, other: &str) {
        use crate::store::dynamodb::item;
        let mut raw = self.raw_get(tenant, id).await;
        self.client()
            .delete_item()
            .table_name(&self.tables().approvals)
            .key("pk", item::s(item::approval_pk(tenant, id)))
            .send()
            .await
            .expect("raw delete");
        let status = item::string(&raw, "tenant_status")
            .and_then(|k| k.rsplit_once('#').map(|(_, st)| st.to_owned()))
            .expect("a status");
        raw.insert("pk".into(), item::s(item::approval_pk(other, id)));
        raw.insert("tenant".into(), item::s(other));
        raw.insert("tenant_status".into(), item::s(format!("{other}#{status}")));
        self.raw_put(raw).await;
    }

    async fn edit_column(&self, tenant: &str, id: Uuid, column: Column) {
        use crate::store::dynamodb::item;
        let mut raw = self.raw_get(tenant, id).await;
        match column {
            Column::Status => {
                raw.insert("status".into(), item::s("approved"));
                raw.insert(
                    "tenant_status".into(),
                    item::s(format!("{tenant}#approved")),
                );
            }
            Column::DueAt => {
                raw.insert(
                    "due_at".into(),
                    item::s(format!("2099-01-01T00:00:00.000Z#{id}")),
                );
            }
            Column::Published => {
                raw.insert("published".into(), item::n(99));
            }
        }
        self.raw_put(raw).await;
    }
}

#[cfg(feature = "dynamodb")]
impl crate::store::dynamodb::DynamoStore {
    async fn raw_get(&self, tenant: &str, id: Uuid) -> crate::store::dynamodb::item::Item {
        use crate::store::dynamodb::item;
        self.client()
            .get_item()
            .table_name(&self.tables().approvals)
            .key("pk", item::s(item::approval_pk(tenant, id)))
            .send()
            .await
            .expect("raw get")
            .item
            .expect("the row")
    }

    async fn raw_put(&self, raw: crate::store::dynamodb::item::Item) {
        self.client()
            .put_item()
            .table_name(&self.tables().approvals)
            .set_item(Some(raw))
            .send()
            .await
            .expect("raw put");
    }
}

/// Four records: created, two approvals towards a quorum of 3, approved.
async fn four_record_chain(
    store: &dyn Store,
    service: &Service,
    t: &str,
) -> (Uuid, Vec<AuditRecord>) {
    let reviewers: Vec<String> = ["alice", "bob", "carol"].map(String::from).to_vec();
    let (a, _) = service
        .create(
            &principal(t, "agent"),
            request(&reviewers, json!({"quorum": 3})),
            None,
        )
        .await
        .unwrap();
    for name in &reviewers {
        let p = principal(t, name);
        let cmd = approve(&p);
        service.apply(t, a.id, cmd).await.unwrap();
    }
    let records = store.audit(t, a.id).await.unwrap();
    assert_eq!(records.len(), 4);
    (a.id, records)
}

/// Every kind of tampering shows, at the first record it touched; an untouched chain verifies.
pub async fn tampering_is_detected(store: Arc<dyn Store>, tamper: Arc<dyn Tamper>) {
    let t = tenant();
    let service = service_on(&store, Clock::system());
    let agent = principal(&t, "agent");
    let check = |id: Uuid| {
        let (service, agent) = (service.clone(), agent.clone());
        async move { service.audit(&agent, id).await.unwrap().1 }
    };

    let (id, _) = four_record_chain(&*store, &service, &t).await;
    let v = check(id).await;
    assert!(v.valid, "untouched: {v:?}");

    let (id, r) = four_record_chain(&*store, &service, &t).await;
    let mut changed = r[1].clone();
    changed.actor = "mallory".into();
    tamper.put_record_at(2, &changed).await;
    assert_eq!(
        check(id).await.first_invalid_sequence,
        Some(2),
        "a changed field"
    );

    let (id, r) = four_record_chain(&*store, &service, &t).await;
    let mut payload = r[3].clone();
    payload.payload = json!({"decision": "rejected"}).into();
    tamper.put_record_at(4, &payload).await;
    assert_eq!(
        check(id).await.first_invalid_sequence,
        Some(4),
        "a changed payload"
    );

    let (id, _) = four_record_chain(&*store, &service, &t).await;
    tamper.delete_record(&t, id, 2).await;
    assert_eq!(
        check(id).await.first_invalid_sequence,
        Some(2),
        "a deleted middle record"
    );

    let (id, _) = four_record_chain(&*store, &service, &t).await;
    tamper.delete_record(&t, id, 4).await;
    let v = check(id).await;
    assert_eq!(
        (v.valid, v.first_invalid_sequence),
        (false, Some(4)),
        "a truncated tail"
    );

    let (id, r) = four_record_chain(&*store, &service, &t).await;
    tamper.put_record_at(2, &r[2]).await;
    tamper.put_record_at(3, &r[1]).await;
    assert_eq!(
        check(id).await.first_invalid_sequence,
        Some(2),
        "two records swapped"
    );

    // Inserted without the key: a well-linked record signed with a guessed key, the rest moved up.
    let (id, r) = four_record_chain(&*store, &service, &t).await;
    let mut forged = AuditRecord::next(
        Some(&r[0].head()),
        id,
        &t,
        AuditEvent::Cancelled,
        "mallory",
        r[0].at,
        json!({}).into(),
    );
    forged.sign(&Key::new("conformance-key", vec![0x66; 32]).unwrap());
    for (i, moved) in r[1..].iter().enumerate().rev() {
        tamper.put_record_at(i as u64 + 3, moved).await;
    }
    tamper.put_record_at(2, &forged).await;
    assert_eq!(
        check(id).await.first_invalid_sequence,
        Some(2),
        "an inserted record"
    );

    // The whole chain recomputed and re-signed with another key, under the real key id or its own.
    for key_id in ["conformance-key", "mallory-key"] {
        let (id, r) = four_record_chain(&*store, &service, &t).await;
        let forger = Key::new(key_id, vec![0x77; 32]).unwrap();
        let mut prev: Option<AuditRecord> = None;
        for original in &r {
            let mut copy = original.clone();
            copy.actor = format!("{} (edited)", copy.actor);
            copy.prev_hash = prev
                .as_ref()
                .map_or(audit::GENESIS_HASH.to_owned(), |p| p.hash.clone());
            copy.hash = copy.computed_hash();
            copy.sign(&forger);
            tamper.put_record_at(copy.sequence, &copy).await;
            prev = Some(copy);
        }
        let v = check(id).await;
        assert_eq!(
            v.first_invalid_sequence,
            Some(1),
            "re-signed as {key_id}: {v:?}"
        );
    }
}
