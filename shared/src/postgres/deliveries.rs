//! Deliveries in PostgreSQL, as the embedded `deliveries.db` keeps them, with one retry queue
//! that several instances share. Reading the queue claims what it answers, in one statement
//! (`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`): rows another instance
//! claimed are skipped while that claim lives, so no two instances attempt one delivery at
//! once. This instance's own claims stay visible to it (its worker reads the queue every
//! 500 ms and passes over what it has in flight itself), and each read renews them. Saving a
//! delivery clears its claim; a crashed instance's claims end with their lease and another
//! instance takes the deliveries over.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Pg, decode, encode, failed, ms};
use crate::delivery::{Delivery, DeliveryLog, DeliveryStatus};
use crate::store::StoreError;

#[derive(Clone)]
pub struct PgDeliveries {
    pg: Pg,
}

impl PgDeliveries {
    pub fn new(pg: Pg) -> PgDeliveries {
        PgDeliveries { pg }
    }

    /// Claims and answers up to `limit` pending deliveries due by `now`, oldest first, of the
    /// channels `sql` (one of the two claims below) reads.
    async fn claim(
        &self,
        sql: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        // Claims live by the wall clock, never by `now` (a test's clock may stand anywhere).
        let wall = Utc::now();
        let me = self.pg.instance().hyphenated().to_string();
        let until = ms(wall + self.pg.lease());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.pg.conn().await?;
        let s = conn.prepare_cached(sql).await.map_err(failed)?;
        let rows = conn
            .query(&s, &[&ms(now), &limit, &me, &until, &ms(wall)])
            .await
            .map_err(failed)?;
        // One unreadable row must not stop every tenant's deliveries: it is left out (and
        // stays claimed until its lease ends), the rest are sent.
        Ok(rows
            .iter()
            .filter_map(|row| {
                delivery(row)
                    .inspect_err(|e| {
                        tracing::error!(error = %e, "an unreadable delivery is left out of the queue")
                    })
                    .ok()
            })
            .collect())
    }
}

/// The queue read: `$1` now, `$2` limit, `$3` this instance, `$4` its claims' end, `$5` the
/// wall clock. The inner select locks what it picks and skips rows another read holds locked;
/// a row claimed meanwhile is checked again on its new version and dropped. Answered oldest
/// first (an UPDATE's RETURNING keeps no order).
macro_rules! claim_sql {
    ($also:literal) => {
        concat!(
            "WITH claimed AS (
                UPDATE deliveries SET claimed_by = $3::text::uuid, claimed_until = $4
                WHERE id IN (
                    SELECT id FROM deliveries
                    WHERE due_at IS NOT NULL AND due_at <= $1 ",
            $also,
            " AND (claimed_by IS NULL OR claimed_by = $3::text::uuid OR claimed_until <= $5)
                    ORDER BY due_at LIMIT $2
                    FOR UPDATE SKIP LOCKED)
                RETURNING id, tenant, approval_id::text, due_at, body)
             SELECT id, tenant, approval_id, body FROM claimed ORDER BY due_at, id"
        )
    };
}

/// Every channel.
pub const DUE: &str = claim_sql!("");
/// Reviewers' messages: no callbacks.
pub const DUE_MESSAGES: &str = claim_sql!("AND channel <> 'callback'");

/// The columns kept beside the body.
struct Columns {
    id: String,
    tenant: String,
    approval_id: String,
    channel: &'static str,
    status: &'static str,
    created_at: i64,
    due_at: Option<i64>,
    body: String,
}

fn columns(d: &Delivery) -> Result<Columns, StoreError> {
    Ok(Columns {
        id: d.id.clone(),
        tenant: d.tenant.clone(),
        approval_id: d.approval_id.hyphenated().to_string(),
        channel: d.channel.as_str(),
        status: d.status.as_str(),
        created_at: ms(d.created_at),
        due_at: (d.status == DeliveryStatus::Pending).then(|| ms(d.next_attempt_at)),
        body: encode(d)?,
    })
}

/// A row (`id, tenant, approval_id::text, body`) read back: its body must be the delivery its
/// columns say, or the row was changed behind the store's back.
fn delivery(row: &Row) -> Result<Delivery, StoreError> {
    let (id, tenant): (&str, &str) = (row.get(0), row.get(1));
    let approval: &str = row.get(2);
    let d: Delivery = decode("delivery", row.get(3))?;
    if d.id != id || d.tenant != tenant || d.approval_id.hyphenated().to_string() != approval {
        return Err(StoreError::Integrity {
            id: d.approval_id,
            reason: format!("the stored delivery {id:?} is not the one its row names"),
        });
    }
    Ok(d)
}

#[async_trait]
impl DeliveryLog for PgDeliveries {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut rows = deliveries
            .iter()
            .map(columns)
            .collect::<Result<Vec<_>, _>>()?;
        // In key order: two writers inserting the same deliveries cannot deadlock.
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let col = |f: fn(&Columns) -> &str| rows.iter().map(f).collect::<Vec<_>>();
        let (ids, tenants, approvals, channels, statuses, bodies) = (
            col(|r| &r.id),
            col(|r| &r.tenant),
            col(|r| &r.approval_id),
            col(|r| r.channel),
            col(|r| r.status),
            col(|r| &r.body),
        );
        let created: Vec<i64> = rows.iter().map(|r| r.created_at).collect();
        let due: Vec<Option<i64>> = rows.iter().map(|r| r.due_at).collect();
        let conn = self.pg.conn().await?;
        // One statement: all kept or none; a delivery kept already (planned again) stands.
        let s = conn
            .prepare_cached(
                "INSERT INTO deliveries
                     (id, tenant, approval_id, channel, status, created_at, due_at, body)
                 SELECT id, tenant, approval_id::uuid, channel, status, created_at, due_at, body
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::bigint[], $7::bigint[], $8::text[])
                     AS d(id, tenant, approval_id, channel, status, created_at, due_at, body)
                 ON CONFLICT (id) DO NOTHING",
            )
            .await
            .map_err(failed)?;
        conn.execute(
            &s,
            &[
                &ids, &tenants, &approvals, &channels, &statuses, &created, &due, &bodies,
            ],
        )
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn save(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let r = columns(delivery)?;
        let conn = self.pg.conn().await?;
        // Saved after an attempt (or deferred): the claim has done its work. Only over a
        // pending delivery no other instance holds now: an attempt that outlived its lease
        // must not undo what the instance that took over recorded (delivered, or failed).
        let s = conn
            .prepare_cached(
                "UPDATE deliveries SET status = $2, due_at = $3, body = $4,
                     claimed_by = NULL, claimed_until = NULL
                 WHERE id = $1 AND status = 'pending'
                     AND (claimed_by IS NULL OR claimed_by = $5::text::uuid
                          OR claimed_until <= $6)",
            )
            .await
            .map_err(failed)?;
        let me = self.pg.instance().hyphenated().to_string();
        let wall = ms(Utc::now());
        let saved = conn
            .execute(&s, &[&r.id, &r.status, &r.due_at, &r.body, &me, &wall])
            .await
            .map_err(failed)?;
        if saved == 0 {
            tracing::warn!(
                delivery = %delivery.id,
                "not recorded: another instance holds or has finished this delivery"
            );
        }
        Ok(())
    }

    async fn release(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let conn = self.pg.conn().await?;
        // Only this instance's own claims: one another instance took over stays its.
        let s = conn
            .prepare_cached(
                "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
                 WHERE id = ANY($1) AND claimed_by = $2::text::uuid",
            )
            .await
            .map_err(failed)?;
        let me = self.pg.instance().hyphenated().to_string();
        conn.execute(&s, &[&ids, &me]).await.map_err(failed)?;
        Ok(())
    }

    async fn get(
        &self,
        tenant: &str,
        approval: Uuid,
        id: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT id, tenant, approval_id::text, body FROM deliveries
                 WHERE id = $1 AND tenant = $2 AND approval_id = $3::text::uuid",
            )
            .await
            .map_err(failed)?;
        let approval = approval.hyphenated().to_string();
        let row = conn
            .query_opt(&s, &[&id, &tenant, &approval])
            .await
            .map_err(failed)?;
        row.as_ref().map(delivery).transpose()
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.claim(DUE, now, limit).await
    }

    async fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.claim(DUE_MESSAGES, now, limit).await
    }

    async fn of_approval(&self, tenant: &str, approval: Uuid) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT id, tenant, approval_id::text, body FROM deliveries
                 WHERE tenant = $1 AND approval_id = $2::text::uuid ORDER BY created_at, id",
            )
            .await
            .map_err(failed)?;
        let approval = approval.hyphenated().to_string();
        let rows = conn
            .query(&s, &[&tenant, &approval])
            .await
            .map_err(failed)?;
        rows.iter().map(delivery).collect()
    }

    async fn recent(
        &self,
        tenant: Option<&str>,
        failed_only: bool,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.pg.conn().await?;
        // Two statements, so each walks its own index (one tenant's, or everyone's by time).
        let rows = match tenant {
            Some(tenant) => {
                let s = conn
                    .prepare_cached(
                        "SELECT id, tenant, approval_id::text, body FROM deliveries
                         WHERE tenant = $1 AND (NOT $2 OR status = 'failed')
                         ORDER BY created_at DESC, id LIMIT $3",
                    )
                    .await
                    .map_err(failed)?;
                conn.query(&s, &[&tenant, &failed_only, &limit]).await
            }
            None => {
                let s = conn
                    .prepare_cached(
                        "SELECT id, tenant, approval_id::text, body FROM deliveries
                         WHERE NOT $1 OR status = 'failed'
                         ORDER BY created_at DESC, id LIMIT $2",
                    )
                    .await
                    .map_err(failed)?;
                conn.query(&s, &[&failed_only, &limit]).await
            }
        }
        .map_err(failed)?;
        // One unreadable row must not stop every tenant's deliveries: it is left out (and
        // stays claimed until its lease ends), the rest are sent.
        Ok(rows
            .iter()
            .filter_map(|row| {
                delivery(row)
                    .inspect_err(|e| {
                        tracing::error!(error = %e, "an unreadable delivery is left out of the queue")
                    })
                    .ok()
            })
            .collect())
    }
}
