//! Approvals and their audit chains in PostgreSQL, shared by every instance on the database.
//! Each write is one transaction: a create stores the approval, its first record, its reviewers
//! and its idempotency key; a transition is a compare-and-set on the version with its record
//! appended in the same transaction. The sweep's `due` claims what it returns in one statement
//! (`FOR UPDATE SKIP LOCKED`, then a lease), so instances sweeping together never take the same
//! approval, and a crashed instance's claims lapse with their lease. A process's own claims
//! never hide rows from itself: one instance behaves exactly as the embedded store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{Pg, decode, failed, ms};
use crate::store::{Created, Cursor, IdempotencyKey, ListFilter, Page, Store, StoreError};
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::Approval;

pub(crate) mod list;
pub(crate) mod row;

use row::{APPROVAL_AS_A, ApprovalRow, Claim, approval_of, id, insert_record, seq};

/// Times a create races another on its idempotency key before it answers unavailable (the
/// loser of one race reads the winner's approval on its next try).
const CREATE_TRIES: usize = 3;

/// The sweep's query, claiming what it returns: due by `$1` (the caller's clock), not claimed
/// by another instance whose claim is still live by `$5` (the wall clock); at most `$2`, the
/// soonest first, skipping rows another transaction holds. `$3` is this instance, `$4` the end
/// of its claim. The partial index `approvals_due` holds only rows with a due time. A live
/// claim of this instance's own is taken again but not lengthened: an instance that keeps
/// failing to move an approval on (its events file unwritable, say) lets it go to the others
/// one lease after it first took it.
pub const DUE: &str = "UPDATE approvals a SET claimed_by = $3, claimed_until = \
     CASE WHEN a.claimed_by = $3 AND a.claimed_until > $5 THEN a.claimed_until ELSE $4 END \
     FROM (SELECT id FROM approvals WHERE due_at <= $1 \
           AND (claimed_by IS NULL OR claimed_by = $3 OR claimed_until <= $5) \
           ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) d \
     WHERE a.id = d.id RETURNING ";

/// Approvals in PostgreSQL. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pg: Pg,
}

impl PgStore {
    pub fn new(pg: Pg) -> PgStore {
        PgStore { pg }
    }

    /// The database handle (pool, instance, lease).
    pub fn pg(&self) -> &Pg {
        &self.pg
    }

    /// This instance's claim, from now (wall clock) for one lease.
    fn claim(&self) -> Claim {
        Claim {
            by: self.pg.instance().to_string(),
            until: ms(Utc::now() + self.pg.lease()),
        }
    }

    fn due_sql() -> String {
        format!("{DUE}{APPROVAL_AS_A}")
    }

    /// `EXPLAIN (ANALYZE)` of the sweep's query, run in a transaction rolled back (nothing is
    /// claimed): the plan and the rows each step read.
    pub async fn explain_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<String, StoreError> {
        let mut conn = self.pg.conn().await?;
        let tx = conn.transaction().await.map_err(failed)?;
        let claim = self.claim();
        let (now, limit, wall) = (ms(now), limit.min(i64::MAX as usize) as i64, ms(Utc::now()));
        let rows = tx
            .query(
                &format!(
                    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {}",
                    Self::due_sql()
                ),
                &[&now, &limit, &claim.by, &claim.until, &wall],
            )
            .await
            .map_err(failed)?;
        tx.rollback().await.map_err(failed)?;
        Ok(list::plan(&rows))
    }

    /// `EXPLAIN (ANALYZE)` of the first query of a list page.
    pub async fn explain_list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let conn = self.pg.conn().await?;
        list::explain(&conn, tenant, filter, limit, after, now).await
    }

    /// One create, in one transaction: `None` when it lost a race on its idempotency key (the
    /// winner is committed; the next try reads it).
    async fn try_create(
        &self,
        approval: &Approval,
        row: &ApprovalRow,
        record: &AuditRecord,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Option<Created>, StoreError> {
        let tenant = &row.columns.tenant;
        let mut conn = self.pg.conn().await?;
        let tx = conn.transaction().await.map_err(failed)?;
        if let Some(k) = idempotency {
            let s = tx
                .prepare_cached(
                    "SELECT request_hash, approval_id FROM idempotency \
                     WHERE tenant = $1 AND key = $2",
                )
                .await
                .map_err(failed)?;
            if let Some(seen) = tx.query_opt(&s, &[tenant, &k.key]).await.map_err(failed)? {
                let (hash, id): (String, String) = (seen.get(0), seen.get(1));
                if hash != k.request_hash {
                    return Err(StoreError::IdempotencyKeyReused);
                }
                let existing = approval_of(&tx, tenant, &id).await?;
                return Ok(Some(Created::Existing(
                    existing.ok_or(StoreError::NotFound)?,
                )));
            }
        }
        // Dropping the transaction unfinished rolls it back.
        if !row.insert(&tx, &self.claim()).await? {
            return Err(StoreError::AlreadyExists);
        }
        row.add_reviewers(&tx).await?;
        insert_record(&tx, record).await?;
        if let Some(k) = idempotency {
            let s = tx
                .prepare_cached(
                    "INSERT INTO idempotency (tenant, key, request_hash, approval_id) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .await
                .map_err(failed)?;
            let n = tx
                .execute(&s, &[tenant, &k.key, &k.request_hash, &row.columns.id])
                .await
                .map_err(failed)?;
            if n == 0 {
                tx.rollback().await.map_err(failed)?;
                return Ok(None);
            }
        }
        tx.commit().await.map_err(failed)?;
        Ok(Some(Created::New(approval.clone())))
    }
}

#[async_trait]
impl Store for PgStore {
    async fn create(
        &self,
        approval: &Approval,
        record: &AuditRecord,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let row = ApprovalRow::new(approval)?;
        for _ in 0..CREATE_TRIES {
            if let Some(created) = self.try_create(approval, &row, record, idempotency).await? {
                return Ok(created);
            }
        }
        Err(StoreError::Unavailable(
            "the idempotency key is contended; try again".into(),
        ))
    }

    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Approval>, StoreError> {
        let conn = self.pg.conn().await?;
        approval_of(&conn, tenant, &row::id(id)).await
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &ListFilter,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        // PostgreSQL's text holds no NUL: no stored approval can match a filter with one, and
        // the query would fail (a 500) rather than find nothing, as the other stores do.
        let awaiting = filter.awaiting.iter();
        let texts = [&filter.agent_id, &filter.reviewer, &filter.checkpoint_type]
            .into_iter()
            .flatten()
            .chain(awaiting.clone().map(|w| &w.name))
            .chain(awaiting.flat_map(|w| &w.roles));
        if limit == 0 || tenant.contains('\0') || texts.into_iter().any(|t| t.contains('\0')) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let conn = self.pg.conn().await?;
        list::page(&conn, tenant, filter, limit, after, now).await
    }

    async fn transition(
        &self,
        expected_version: u64,
        next: &Approval,
        record: &AuditRecord,
    ) -> Result<(), StoreError> {
        crate::store::check_transition(expected_version, next, record)?;
        let row = ApprovalRow::new(next)?;
        let (tenant, key) = (&row.columns.tenant, &row.columns.id);
        // A transition's record is the one after its head: its chain ends at `expected_version`.
        let head_seq = seq(expected_version);
        let mut conn = self.pg.conn().await?;
        let tx = conn.transaction().await.map_err(failed)?;
        if !row
            .replace(&tx, seq(expected_version), head_seq, &self.claim())
            .await?
        {
            tx.rollback().await.map_err(failed)?;
            let current = approval_of(&conn, tenant, key).await?;
            return Err(match current {
                Some(current) => StoreError::Conflict {
                    current: Box::new(current),
                },
                None => StoreError::NotFound,
            });
        }
        let s = tx
            .prepare_cached("SELECT count(*) FROM audit WHERE approval_id = $1")
            .await
            .map_err(failed)?;
        let chain: i64 = tx.query_one(&s, &[key]).await.map_err(failed)?.get(0);
        if chain != head_seq {
            return Err(StoreError::Integrity {
                id: next.id,
                reason: format!(
                    "the audit chain holds {chain} records, the approval's head is {head_seq}"
                ),
            });
        }
        row.add_reviewers(&tx).await?;
        insert_record(&tx, record).await?;
        tx.commit().await.map_err(failed)
    }

    async fn mark_published(&self, approval: &Approval) -> Result<bool, StoreError> {
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(
                // The due time follows the mark it comes with, never an older one; the writer's
                // own claim ends with its events published (another instance's stays).
                "UPDATE approvals SET \
                 due_at = CASE WHEN $4 >= published_seq THEN $5 ELSE due_at END, \
                 published_seq = GREATEST(published_seq, $4), \
                 claimed_by = CASE WHEN claimed_by = $6 THEN NULL ELSE claimed_by END, \
                 claimed_until = CASE WHEN claimed_by = $6 THEN NULL ELSE claimed_until END \
                 WHERE id = $1 AND tenant = $2 AND version = $3",
            )
            .await
            .map_err(failed)?;
        let key = id(approval.id);
        let due_at = approval.next_deadline().map(ms);
        let changed = conn
            .execute(
                &s,
                &[
                    &key,
                    &approval.tenant,
                    &seq(approval.version),
                    &seq(approval.published_seq),
                    &due_at,
                    &self.pg.instance().to_string(),
                ],
            )
            .await
            .map_err(failed)?;
        if changed == 0 && approval_of(&conn, &approval.tenant, &key).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(changed == 1)
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Approval>, StoreError> {
        let conn = self.pg.conn().await?;
        let s = conn
            .prepare_cached(&Self::due_sql())
            .await
            .map_err(failed)?;
        let claim = self.claim();
        let (now, limit, wall) = (ms(now), limit.min(i64::MAX as usize) as i64, ms(Utc::now()));
        let mut rows = conn
            .query(&s, &[&now, &limit, &claim.by, &claim.until, &wall])
            .await
            .map_err(failed)?;
        // RETURNING follows no order: the soonest first, as the embedded store answers.
        rows.sort_by_key(|r| r.try_get::<_, Option<i64>>(11).ok().flatten());
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            // One unreadable row must not stop the sweep for every tenant.
            match row::approval(r) {
                Ok(a) => due.push(a),
                Err(e) => {
                    tracing::error!(error = %e, "an unreadable approval is left out of the sweep")
                }
            }
        }
        Ok(due)
    }

    async fn every_chain(&self) -> Result<Option<Vec<(String, Uuid)>>, StoreError> {
        let conn = self.pg.conn().await?;
        let rows = conn
            .query(
                "SELECT tenant, id FROM approvals \
                 UNION SELECT tenant, approval_id FROM checkpoint_heads ORDER BY 1, 2",
                &[],
            )
            .await
            .map_err(failed)?;
        rows.iter()
            .map(|r| {
                let id: String = r.get(1);
                let id = Uuid::parse_str(&id).map_err(|e| StoreError::Internal(e.to_string()))?;
                Ok((r.get(0), id))
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
    }

    async fn audit(&self, tenant: &str, id: Uuid) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.pg.conn().await?;
        let key = row::id(id);
        let s = conn
            .prepare_cached(
                "SELECT body FROM audit WHERE approval_id = $1 \
                 AND EXISTS (SELECT 1 FROM approvals WHERE id = $1 AND tenant = $2) \
                 ORDER BY sequence",
            )
            .await
            .map_err(failed)?;
        let rows = conn.query(&s, &[&key, &tenant]).await.map_err(failed)?;
        rows.iter()
            .map(|r| decode("audit record", r.get::<_, &str>(0)))
            .collect()
    }
}
