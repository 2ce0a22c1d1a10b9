//! The tamper seam on PostgreSQL: raw SQL on the tables, past the store, as a hand with `psql`
//! would. The audit and checkpoint triggers refuse edits, so a hand must disable them first:
//! here inside the edit's own transaction, whose lock keeps every other session from ever seeing
//! the table unguarded.

use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::Approval;
use uuid::Uuid;

use super::tamper::{Column, Tamper};
use crate::postgres::encode;
use crate::postgres::store::PgStore;
use crate::postgres::store::row::{ApprovalRow, id};
use crate::postgres::tokio_postgres::types::ToSql;

async fn raw(store: &PgStore, sql: &str, params: &[&(dyn ToSql + Sync)]) {
    let mut conn = store.pg().conn().await.expect("a connection");
    let tx = conn.transaction().await.expect("a transaction");
    let guarded = sql.contains("audit");
    if guarded {
        tx.batch_execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
            .await
            .expect("disable the guard");
    }
    tx.execute(sql, params).await.expect("raw write");
    if guarded {
        tx.batch_execute("ALTER TABLE audit ENABLE TRIGGER audit_append_only")
            .await
            .expect("enable the guard");
    }
    tx.commit().await.expect("commit");
}

#[async_trait::async_trait]
impl Tamper for PgStore {
    async fn put_record_at(&self, sequence: u64, record: &AuditRecord) {
        let body = encode(record).expect("encodes");
        raw(
            self,
            "INSERT INTO audit (approval_id, sequence, body) VALUES ($1, $2, $3) \
             ON CONFLICT (approval_id, sequence) DO UPDATE SET body = EXCLUDED.body",
            &[&id(record.approval_id), &(sequence as i64), &body],
        )
        .await;
    }

    async fn delete_record(&self, _tenant: &str, approval: Uuid, sequence: u64) {
        raw(
            self,
            "DELETE FROM audit WHERE approval_id = $1 AND sequence = $2",
            &[&id(approval), &(sequence as i64)],
        )
        .await;
    }

    async fn put_approval(&self, _tenant: &str, approval: Uuid, stored: &Approval) {
        let row = ApprovalRow::new(stored).expect("encodes");
        let c = &row.columns;
        raw(
            self,
            "UPDATE approvals SET status = $2, version = $3, head_seq = $4, due_at = $5, \
             body = $6, published_seq = $7 WHERE id = $1",
            &[
                &id(approval),
                &c.status,
                &c.version,
                &c.head_seq,
                &c.due_at,
                &row.body,
                &row.published_seq,
            ],
        )
        .await;
    }

    async fn copy_body(&self, _tenant: &str, from: Uuid, to: Uuid) {
        raw(
            self,
            "UPDATE approvals SET body = (SELECT body FROM approvals WHERE id = $1) WHERE id = $2",
            &[&id(from), &id(to)],
        )
        .await;
    }

    async fn move_row(&self, _tenant: &str, approval: Uuid, other: &str) {
        raw(
            self,
            "UPDATE approvals SET tenant = $2 WHERE id = $1",
            &[&id(approval), &other],
        )
        .await;
        raw(
            self,
            "UPDATE reviewers SET tenant = $2 WHERE approval_id = $1",
            &[&id(approval), &other],
        )
        .await;
    }

    async fn edit_column(&self, _tenant: &str, approval: Uuid, column: Column) {
        let sql = match column {
            Column::Status => "UPDATE approvals SET status = 'approved' WHERE id = $1",
            Column::DueAt => "UPDATE approvals SET due_at = 4070908800000 WHERE id = $1",
            Column::Published => "UPDATE approvals SET published_seq = 99 WHERE id = $1",
        };
        raw(self, sql, &[&id(approval)]).await;
    }
}
