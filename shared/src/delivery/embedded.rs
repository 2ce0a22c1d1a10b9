//! Deliveries in the data directory (`deliveries.db`): the record of every attempt and the
//! local retry queue in one table, so a delivery waiting for its next attempt survives a
//! restart of the server.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{Delivery, DeliveryLog, DeliveryStatus};
use crate::store::StoreError;
use crate::store::embedded::sqlite::{SqliteFile, decode, encode, failed};

pub const FILE: &str = "deliveries.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id          TEXT PRIMARY KEY, -- {event_id}.{channel}.{recipient}
    tenant      TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    status      TEXT NOT NULL,    -- pending, delivered, failed
    created_at  INTEGER NOT NULL, -- Unix ms
    due_at      INTEGER,          -- next attempt while pending; NULL once over
    body        TEXT NOT NULL     -- the delivery, as JSON
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_of ON deliveries (tenant, approval_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_recent ON deliveries (tenant, created_at);
";

#[derive(Clone)]
pub struct EmbeddedDeliveries {
    file: SqliteFile,
}

impl EmbeddedDeliveries {
    pub fn open(dir: &Path) -> Result<EmbeddedDeliveries, StoreError> {
        Ok(EmbeddedDeliveries {
            file: SqliteFile::open(dir, FILE, SCHEMA)?,
        })
    }
}

struct Row {
    id: String,
    tenant: String,
    approval_id: String,
    status: &'static str,
    created_at: i64,
    due_at: Option<i64>,
    body: String,
}

fn row(d: &Delivery) -> Result<Row, StoreError> {
    Ok(Row {
        id: d.id.clone(),
        tenant: d.tenant.clone(),
        approval_id: d.approval_id.hyphenated().to_string(),
        status: d.status.as_str(),
        created_at: d.created_at.timestamp_millis(),
        due_at: (d.status == DeliveryStatus::Pending).then(|| d.next_attempt_at.timestamp_millis()),
        body: encode(d)?,
    })
}

fn query(
    conn: &rusqlite::Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Delivery>, StoreError> {
    let mut s = conn.prepare_cached(sql).map_err(failed)?;
    let rows = s
        .query_map(args, |r| r.get::<_, String>(0))
        .map_err(failed)?;
    rows.map(|b| decode("delivery", &b.map_err(failed)?))
        .collect()
}

#[async_trait]
impl DeliveryLog for EmbeddedDeliveries {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let rows = deliveries.iter().map(row).collect::<Result<Vec<_>, _>>()?;
        self.file
            .with(move |conn| {
                let tx = conn.transaction().map_err(failed)?;
                for r in &rows {
                    tx.execute(
                        "INSERT OR IGNORE INTO deliveries \
                         (id, tenant, approval_id, status, created_at, due_at, body) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            r.id,
                            r.tenant,
                            r.approval_id,
                            r.status,
                            r.created_at,
                            r.due_at,
                            r.body
                        ],
                    )
                    .map_err(failed)?;
                }
                tx.commit().map_err(failed)
            })
            .await
    }

    async fn save(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let r = row(delivery)?;
        self.file
            .with(move |conn| {
                conn.execute(
                    "UPDATE deliveries SET status = ?2, due_at = ?3, body = ?4 WHERE id = ?1",
                    params![r.id, r.status, r.due_at, r.body],
                )
                .map_err(failed)?;
                Ok(())
            })
            .await
    }

    async fn get(
        &self,
        tenant: &str,
        approval: Uuid,
        id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        let (tenant, approval, id) = (
            tenant.to_owned(),
            approval.hyphenated().to_string(),
            id.to_owned(),
        );
        self.file
            .with(move |conn| {
                conn.prepare_cached(
                    "SELECT body FROM deliveries WHERE id = ?1 AND tenant = ?2 AND approval_id = ?3",
                )
                .map_err(failed)?
                .query_row(params![id, tenant, approval], |r| r.get::<_, String>(0))
                .optional()
                .map_err(failed)?
                .map(|b| decode("delivery", &b))
                .transpose()
            })
            .await
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let (now, limit) = (now.timestamp_millis(), limit as i64);
        self.file
            .with(move |conn| {
                query(
                    conn,
                    "SELECT body FROM deliveries WHERE due_at IS NOT NULL AND due_at <= ?1 \
                     ORDER BY due_at LIMIT ?2",
                    params![now, limit],
                )
            })
            .await
    }

    async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (now, limit) = (now.timestamp_millis(), limit as i64);
        // The due index is walked past callbacks: little, next to sending one.
        self.file
            .with(move |conn| {
                query(
                    conn,
                    "SELECT body FROM deliveries WHERE due_at IS NOT NULL AND due_at <= ?1 \
                     AND json_extract(body, '$.channel') <> 'callback' ORDER BY due_at LIMIT ?2",
                    params![now, limit],
                )
            })
            .await
    }

    async fn of_approval(&self, tenant: &str, approval: Uuid) -> Result<Vec<Delivery>, StoreError> {
        let (tenant, approval) = (tenant.to_owned(), approval.hyphenated().to_string());
        self.file
            .with(move |conn| {
                query(
                    conn,
                    "SELECT body FROM deliveries WHERE tenant = ?1 AND approval_id = ?2 \
                     ORDER BY created_at, id",
                    params![tenant, approval],
                )
            })
            .await
    }

    async fn recent(
        &self,
        tenant: Option<&str>,
        failed_only: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (tenant, limit) = (tenant.map(str::to_owned), limit as i64);
        self.file
            .with(move |conn| {
                query(
                    conn,
                    "SELECT body FROM deliveries WHERE (?1 IS NULL OR tenant = ?1) \
                     AND (?2 = 0 OR status = 'failed') ORDER BY created_at DESC, id LIMIT ?3",
                    params![tenant, failed_only, limit],
                )
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: usize, channel: &str, at: &str) -> Delivery {
        serde_json::from_value(serde_json::json!({
            "id": format!("e{n}.{channel}.r"), "tenant": "t", "approval_id": Uuid::new_v4(),
            "event_id": format!("e{n}"), "event_type": "approval.requested", "channel": channel,
            "recipient": "r", "target": "https://dead.example/cb", "status": "pending",
            "attempts": 0, "created_at": at, "next_attempt_at": at,
            "message": {"kind": "webhook", "body": "{}"},
        }))
        .unwrap()
    }

    /// However many callbacks wait ahead of it, a reviewer's message is in the first read of
    /// messages: an agent's backlog never puts reviewers behind it.
    #[tokio::test]
    async fn reviewers_messages_are_read_apart_from_callbacks() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedDeliveries::open(dir.path()).unwrap();
        let backlog: Vec<Delivery> = (0..2000)
            .map(|n| pending(n, "callback", "2026-11-29T10:00:00.000Z"))
            .collect();
        log.enqueue(&backlog).await.unwrap();
        let webhook = pending(9999, "webhook", "2026-11-29T11:00:00.000Z");
        log.enqueue(std::slice::from_ref(&webhook)).await.unwrap();
        let all = log.due(Utc::now(), 256).await.unwrap();
        assert!(
            !all.contains(&webhook),
            "behind the callbacks in the whole queue"
        );
        assert_eq!(log.due_messages(Utc::now(), 64).await.unwrap(), [webhook]);
    }
}
