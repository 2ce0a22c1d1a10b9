//! Checkpoints in PostgreSQL: the `checkpoints` and `checkpoint_heads` tables (append-only by
//! triggers, like the audit records) and the approvals' `moved` mark, read through its partial
//! index, so finding what moved costs what moved, not the table. An append is one transaction;
//! two instances appending the same sequence meet on the primary key and one is refused.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::store::PgStore;
use super::store::row::{self, APPROVAL, id, seq};
use super::{decode, encode, failed};
use crate::store::StoreError;
use crate::store::checkpoints::{CheckpointLog, Moved, check_append};
use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead};

async fn checkpoints(
    conn: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Checkpoint>, StoreError> {
    let s = conn.prepare_cached(sql).await.map_err(failed)?;
    let rows = conn.query(&s, params).await.map_err(failed)?;
    rows.iter()
        .map(|r| decode("checkpoint", r.get::<_, &str>(0)))
        .collect()
}

fn taken(c: &Checkpoint) -> StoreError {
    StoreError::CheckpointTaken {
        tenant: c.tenant.clone(),
        sequence: c.sequence,
    }
}

#[async_trait]
impl CheckpointLog for PgStore {
    async fn moved(&self, limit: usize) -> Result<Vec<Moved>, StoreError> {
        let conn = self.pg().conn().await?;
        let s = conn
            .prepare_cached(&format!(
                "SELECT {APPROVAL} FROM approvals WHERE moved ORDER BY id LIMIT $1"
            ))
            .await
            .map_err(failed)?;
        let rows = conn
            .query(&s, &[&seq(limit as u64)])
            .await
            .map_err(failed)?;
        let mut moved = Vec::with_capacity(rows.len());
        for r in &rows {
            match row::approval(r) {
                Ok(a) => moved.push(Moved {
                    tenant: a.tenant.clone(),
                    head: CheckpointHead::of(a.id, &a.audit_head),
                }),
                // As the sweep does: one unreadable row must not stop every tenant's checkpoints.
                Err(e) => {
                    tracing::error!(error = %e, "an unreadable approval is left out of checkpoints")
                }
            }
        }
        Ok(moved)
    }

    async fn latest(&self, tenant: &str) -> Result<Option<Checkpoint>, StoreError> {
        let conn = self.pg().conn().await?;
        let sql = "SELECT body FROM checkpoints WHERE tenant = $1 ORDER BY sequence DESC LIMIT 1";
        Ok(checkpoints(&conn, sql, &[&tenant]).await?.pop())
    }

    async fn append(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        check_append(checkpoint)?;
        let c = checkpoint;
        let body = encode(c)?;
        let mut conn = self.pg().conn().await?;
        let tx = conn.transaction().await.map_err(failed)?;
        let s = tx
            .prepare_cached(
                "SELECT sequence, hash FROM checkpoints WHERE tenant = $1 \
                 ORDER BY sequence DESC LIMIT 1",
            )
            .await
            .map_err(failed)?;
        let latest: Option<(i64, String)> = tx
            .query_opt(&s, &[&c.tenant])
            .await
            .map_err(failed)?
            .map(|r| (r.get(0), r.get(1)));
        // Dropping the transaction unfinished rolls it back.
        if latest.as_ref().is_some_and(|l| l.0 >= seq(c.sequence)) {
            return Err(taken(c));
        }
        let follows = match &latest {
            None => c.sequence == 1,
            Some((n, hash)) => c.sequence == (*n as u64) + 1 && c.prev_hash == *hash,
        };
        if !follows {
            return Err(StoreError::Internal(format!(
                "checkpoint {} of tenant {} does not follow the stored chain (latest {:?})",
                c.sequence,
                c.tenant,
                latest.map(|l| l.0)
            )));
        }
        let s = tx
            .prepare_cached(
                "INSERT INTO checkpoints (tenant, sequence, hash, body) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(failed)?;
        let n = tx
            .execute(&s, &[&c.tenant, &seq(c.sequence), &c.hash, &body])
            .await
            .map_err(failed)?;
        if n == 0 {
            // Another instance appended this sequence since the read above.
            return Err(taken(c));
        }
        let ids: Vec<String> = c.heads.iter().map(|h| id(h.approval_id)).collect();
        let seqs: Vec<i64> = c.heads.iter().map(|h| seq(h.sequence)).collect();
        let hashes: Vec<&str> = c.heads.iter().map(|h| h.hash.as_str()).collect();
        let s = tx
            .prepare_cached(
                "INSERT INTO checkpoint_heads (tenant, approval_id, checkpoint_seq, head_seq, \
                 head_hash) SELECT $1, h.id, $2, h.seq, h.hash \
                 FROM unnest($3::text[], $4::bigint[], $5::text[]) AS h(id, seq, hash)",
            )
            .await
            .map_err(failed)?;
        tx.execute(&s, &[&c.tenant, &seq(c.sequence), &ids, &seqs, &hashes])
            .await
            .map_err(failed)?;
        // Only a mark whose head is still the one recorded: an approval that moved again since
        // it was read stays moved for the next checkpoint.
        let s = tx
            .prepare_cached(
                "UPDATE approvals a SET moved = NULL \
                 FROM unnest($2::text[], $3::bigint[]) AS h(id, seq) \
                 WHERE a.id = h.id AND a.tenant = $1 AND a.head_seq = h.seq AND a.moved",
            )
            .await
            .map_err(failed)?;
        tx.execute(&s, &[&c.tenant, &ids, &seqs])
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }

    async fn since(
        &self,
        tenant: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let conn = self.pg().conn().await?;
        let sql = "SELECT body FROM checkpoints WHERE tenant = $1 AND sequence >= $2 \
                   ORDER BY sequence LIMIT $3";
        checkpoints(&conn, sql, &[&tenant, &seq(from), &seq(limit as u64)]).await
    }

    async fn covering(
        &self,
        tenant: &str,
        approval: Uuid,
    ) -> Result<Vec<(u64, CheckpointHead)>, StoreError> {
        let conn = self.pg().conn().await?;
        let s = conn
            .prepare_cached(
                "SELECT checkpoint_seq, head_seq, head_hash FROM checkpoint_heads \
                 WHERE tenant = $1 AND approval_id = $2 ORDER BY checkpoint_seq",
            )
            .await
            .map_err(failed)?;
        let rows = conn
            .query(&s, &[&tenant, &id(approval)])
            .await
            .map_err(failed)?;
        Ok(rows
            .iter()
            .map(|r| {
                let (c, h, hash): (i64, i64, String) = (r.get(0), r.get(1), r.get(2));
                (
                    c.max(0) as u64,
                    CheckpointHead {
                        approval_id: approval,
                        sequence: h.max(0) as u64,
                        hash,
                    },
                )
            })
            .collect())
    }
}
