//! Checkpoints in `holdpoint.db`: the `checkpoints` and `checkpoint_heads` tables (append-only by
//! triggers, like the audit records) and the approvals' `moved` mark, read through its partial
//! index, so finding what moved costs what moved, not the table.

use async_trait::async_trait;
use rusqlite::{Connection, params};
use uuid::Uuid;

use super::checkpoint_rows::{CheckpointRow, seq};
use super::sqlite::{decode, encode, failed};
use super::writer::{Answer, Write};
use super::{EmbeddedStore, schema};
use crate::store::StoreError;
use crate::store::checkpoints::{CheckpointLog, Moved, check_append};
use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead};

fn moved(conn: &Connection, limit: usize) -> Result<Vec<Moved>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!(
            "SELECT {} FROM approvals WHERE moved IS NOT NULL ORDER BY id LIMIT ?1",
            schema::APPROVAL
        ))
        .map_err(failed)?;
    let mut rows = s.query([seq(limit as u64)]).map_err(failed)?;
    let mut moved = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        match schema::approval(row) {
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

fn checkpoints(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<Checkpoint>, StoreError> {
    let mut s = conn.prepare_cached(sql).map_err(failed)?;
    let rows = s.query_map(p, |r| r.get::<_, String>(0)).map_err(failed)?;
    rows.map(|body| decode("checkpoint", &body.map_err(failed)?))
        .collect()
}

fn covering(
    conn: &Connection,
    tenant: &str,
    id: Uuid,
) -> Result<Vec<(u64, CheckpointHead)>, StoreError> {
    let mut s = conn
        .prepare_cached(
            "SELECT checkpoint_seq, head_seq, head_hash FROM checkpoint_heads \
             WHERE tenant = ?1 AND approval_id = ?2 ORDER BY checkpoint_seq",
        )
        .map_err(failed)?;
    let rows = s
        .query_map(params![tenant, schema::id(id)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(failed)?;
    rows.map(|row| {
        let (c, h, hash) = row.map_err(failed)?;
        Ok((
            c.max(0) as u64,
            CheckpointHead {
                approval_id: id,
                sequence: h.max(0) as u64,
                hash,
            },
        ))
    })
    .collect()
}

#[async_trait]
impl CheckpointLog for EmbeddedStore {
    async fn moved(&self, limit: usize) -> Result<Vec<Moved>, StoreError> {
        self.read(move |conn| moved(conn, limit)).await
    }

    async fn latest(&self, tenant: &str) -> Result<Option<Checkpoint>, StoreError> {
        let tenant = tenant.to_owned();
        self.read(move |conn| {
            let sql = "SELECT body FROM checkpoints WHERE tenant = ?1 \
                       ORDER BY sequence DESC LIMIT 1";
            Ok(checkpoints(conn, sql, [&tenant])?.pop())
        })
        .await
    }

    async fn append(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        check_append(checkpoint)?;
        let row = CheckpointRow {
            tenant: checkpoint.tenant.clone(),
            sequence: checkpoint.sequence,
            prev_hash: checkpoint.prev_hash.clone(),
            hash: checkpoint.hash.clone(),
            body: encode(checkpoint)?,
            heads: checkpoint.heads.clone(),
        };
        match self.write(Write::Checkpoint(Box::new(row))).await? {
            Answer::Done => Ok(()),
            _ => Err(StoreError::Internal("unexpected answer to append".into())),
        }
    }

    async fn since(
        &self,
        tenant: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let tenant = tenant.to_owned();
        self.read(move |conn| {
            let sql = "SELECT body FROM checkpoints WHERE tenant = ?1 AND sequence >= ?2 \
                       ORDER BY sequence LIMIT ?3";
            checkpoints(conn, sql, params![tenant, seq(from), seq(limit as u64)])
        })
        .await
    }

    async fn covering(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Vec<(u64, CheckpointHead)>, StoreError> {
        let tenant = tenant.to_owned();
        self.read(move |conn| covering(conn, &tenant, id)).await
    }
}
